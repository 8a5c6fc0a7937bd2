// Draws the server-built Plotly figure embedded in the page as JSON. No data is fetched:
// the figure is exactly what the server rendered into the page (and into the table below it).
// The chart box gets an explicit height (the figure's, plus room for the legend on a narrow
// screen) and plotly takes its width from the box, so after a resize the drawing and the box
// stay the same size and nothing below is drawn over. On a narrow screen the track labels are
// shortened to the line number and regimen ("L1 7+3", not "L1 7+3 (cytarabine +
// daunorubicin)") so the drawing keeps most of the width, the response badges keep their
// colour without their text, which would overlap, and the dates are fewer and level; the hover
// and the table below say it all.
(function () {
  "use strict";
  var NARROW = 640;
  var SHORT = 12;
  function shortLabel(label) {
    var text = String(label).replace(/\s*\(.*\)\s*$/, "");
    return text.length > SHORT ? text.slice(0, SHORT - 1) + "\u2026" : text;
  }
  function draw() {
    var holder = document.getElementById("timeline-chart");
    var source = document.getElementById("timeline-figure");
    if (!holder || !source || typeof Plotly === "undefined") { return; }
    var figure = JSON.parse(source.textContent);
    var layout = figure.layout;
    var baseHeight = layout.height || 600;
    var baseMargin = Object.assign({}, layout.margin || {});
    delete layout.width;
    layout.autosize = true;
    // The track axes (categories: therapy lines, events, biopsies, response) and their labels.
    var tracks = {};
    Object.keys(layout).forEach(function (key) {
      if (key.indexOf("yaxis") === 0 && layout[key].type === "category") {
        tracks[key] = [];
      }
    });
    figure.data.forEach(function (trace) {
      var key = "yaxis" + String(trace.yaxis || "y").slice(1);
      if (tracks[key]) {
        (trace.y || []).forEach(function (y) {
          if (tracks[key].indexOf(y) < 0) { tracks[key].push(y); }
        });
      }
    });
    var dateAxes = Object.keys(layout).filter(function (key) { return key.indexOf("xaxis") === 0; });
    var badges = figure.data.map(function (trace, i) {
      return trace.name === "Response" ? i : -1;
    }).filter(function (i) { return i >= 0; });
    var words = {};
    badges.forEach(function (i) { words[i] = (figure.data[i].text || []).slice(); });
    var measure = document.createElement("canvas").getContext("2d");

    // A badge's words that would run into the next badge are left out (its colour stays and the
    // hover names it): two calls weeks apart wrote 'NO RESPONSE' over the next marker.
    function spaceBadges() {
      var changes = [];
      badges.forEach(function (i) {
        var trace = holder.data[i];
        var axis = holder._fullLayout["xaxis" + String(trace.xaxis || "x").slice(1)];
        if (!axis || !axis.d2p || String(trace.mode).indexOf("text") < 0) { return; }
        var size = (trace.textfont && trace.textfont.size) || 10;
        measure.font = size + "px " + (holder._fullLayout.font.family || "sans-serif");
        var xs = trace.x.map(function (d) { return axis.d2p(d); });
        var text = words[i].map(function (label, k) {
          if (k === xs.length - 1) { return label; }
          var right = xs[k] + 9 + measure.measureText(label).width;
          return right < xs[k + 1] - 8 ? label : "";
        });
        if (text.join("\u0000") !== (trace.text || []).join("\u0000")) {
          changes.push(Plotly.restyle(holder, { text: [text] }, [i]));
        }
      });
      return Promise.all(changes);
    }

    function fit() {
      var narrow = holder.clientWidth < NARROW;
      var height = narrow ? baseHeight + 140 : baseHeight;
      holder.style.height = height + "px";
      var update = {
        height: height,
        margin: Object.assign({}, baseMargin, narrow ? { r: 30, b: 180 } : {}),
        "legend.font.size": narrow ? 10 : 12
      };
      Object.keys(tracks).forEach(function (key) {
        update[key + ".tickmode"] = narrow ? "array" : "auto";
        update[key + ".tickvals"] = narrow ? tracks[key] : null;
        update[key + ".ticktext"] = narrow ? tracks[key].map(shortLabel) : null;
      });
      // Fewer, level dates: turned on end they ran under the legend ("Jan 2" of "Jan 2023").
      dateAxes.forEach(function (key) {
        update[key + ".nticks"] = narrow ? 4 : null;
        update[key + ".tickangle"] = narrow ? 0 : "auto";
      });
      return { layout: update, mode: narrow ? "markers" : "markers+text" };
    }
    var sized = fit();
    layout.height = sized.layout.height;
    layout.margin = sized.layout.margin;
    Object.keys(tracks).forEach(function (key) {
      if (sized.layout[key + ".tickmode"] === "array") {
        layout[key].tickmode = "array";
        layout[key].tickvals = sized.layout[key + ".tickvals"];
        layout[key].ticktext = sized.layout[key + ".ticktext"];
      }
    });
    dateAxes.forEach(function (key) {
      if (sized.layout[key + ".nticks"]) {
        layout[key].nticks = sized.layout[key + ".nticks"];
        layout[key].tickangle = 0;
      }
    });
    badges.forEach(function (i) { figure.data[i].mode = sized.mode; });
    Plotly.newPlot(holder, figure.data, layout, {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["sendDataToCloud"]
    }).then(spaceBadges).then(function () {
      // When the chart was drawn, in ms since navigation started (read by bench_web.py).
      holder.setAttribute("data-rendered-ms", String(Math.round(performance.now())));
      holder.setAttribute("data-rendered", "true");
    });

    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () {
        pending = null;
        var sized = fit();
        sized.layout.width = holder.clientWidth;
        var restyled = badges.length
          ? Plotly.restyle(holder, { mode: sized.mode }, badges)
          : Promise.resolve();
        restyled.then(function () {
          return Plotly.relayout(holder, sized.layout);
        }).then(spaceBadges).then(function () {
          holder.setAttribute("data-resized", String(holder.clientWidth));
        });
      }, 100);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
