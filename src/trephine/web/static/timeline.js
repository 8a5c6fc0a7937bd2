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
    // The track axes (categories: therapy lines, events, biopsies, response) and their labels:
    // the server's own (a response track of a few rows labels only its first) or the categories.
    var tracks = {};
    var labels = {};
    Object.keys(layout).forEach(function (key) {
      if (key.indexOf("yaxis") === 0 && layout[key].type === "category") {
        tracks[key] = [];
        if (layout[key].tickvals && layout[key].ticktext) {
          labels[key] = {};
          layout[key].tickvals.forEach(function (v, k) { labels[key][v] = layout[key].ticktext[k]; });
        }
      }
    });
    function trackLabel(key, y) {
      return labels[key] && y in labels[key] ? labels[key][y] : y;
    }
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

    // A badge's words go right of its marker; where they would run into the next badge of its
    // row, or past the drawing's right edge (the latest call, 'Haematologic relapse' cut at
    // 760 px), they go left of it if there is room there, else they are left out (its colour
    // stays and the hover names it: two calls weeks apart wrote 'NO RESPONSE' over the next
    // marker). The server puts calls on close dates on rows of their own, so this is rare.
    function spaceBadges() {
      var changes = [];
      badges.forEach(function (i) {
        var trace = holder.data[i];
        var axis = holder._fullLayout["xaxis" + String(trace.xaxis || "x").slice(1)];
        if (!axis || !axis.d2p || String(trace.mode).indexOf("text") < 0) { return; }
        var size = (trace.textfont && trace.textfont.size) || 10;
        measure.font = size + "px " + (holder._fullLayout.font.family || "sans-serif");
        var xs = trace.x.map(function (d) { return axis.d2p(d); });
        // The drawing's right edge, in the same units as xs (from the plot area's left).
        var edge = holder._fullLayout.width - axis._offset - 2;
        var ends = {};  // per row: where the previous badge (marker or words) ends
        var text = [];
        var where = [];
        words[i].forEach(function (label, k) {
          var row = trace.y[k];
          var next = -1;
          for (var j = k + 1; j < xs.length && next < 0; j++) {
            if (trace.y[j] === row) { next = j; }
          }
          var width = measure.measureText(label).width;
          var limit = next < 0 ? edge : xs[next] - 8;
          var after = row in ends ? ends[row] + 8 : 0;
          if (xs[k] + 9 + width < limit) {
            text.push(label);
            where.push("middle right");
            ends[row] = xs[k] + 9 + width;
          } else if (xs[k] - 9 - width > after) {
            text.push(label);
            where.push("middle left");
            ends[row] = xs[k] + 6;
          } else {
            text.push("");
            where.push("middle right");
            ends[row] = xs[k] + 6;
          }
        });
        var position = Array.isArray(trace.textposition) ? trace.textposition : [];
        if (text.join("\u0000") !== (trace.text || []).join("\u0000") ||
            where.join("\u0000") !== position.join("\u0000")) {
          changes.push(Plotly.restyle(holder, { text: [text], textposition: [where] }, [i]));
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
        var full = tracks[key].map(function (y) { return trackLabel(key, y); });
        var own = narrow || labels[key];
        update[key + ".tickmode"] = own ? "array" : "auto";
        update[key + ".tickvals"] = own ? tracks[key] : null;
        update[key + ".ticktext"] = own ? (narrow ? full.map(shortLabel) : full) : null;
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
