// Draws the server-built Plotly figure embedded in the page as JSON. No data is fetched:
// the figure is exactly what the server rendered into the page (and into the table below it).
// The chart box gets an explicit height (the figure's, plus room for the legend on a narrow
// screen) and plotly takes its width from the box, so after a resize the drawing and the box
// stay the same size and nothing below is drawn over.
(function () {
  "use strict";
  var NARROW = 640;
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

    function fit() {
      var narrow = holder.clientWidth < NARROW;
      var height = narrow ? baseHeight + 140 : baseHeight;
      holder.style.height = height + "px";
      return {
        height: height,
        margin: Object.assign({}, baseMargin, narrow ? { r: 30, b: 180 } : {}),
        "legend.font.size": narrow ? 10 : 12
      };
    }
    var sized = fit();
    layout.height = sized.height;
    layout.margin = sized.margin;
    Plotly.newPlot(holder, figure.data, layout, {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["sendDataToCloud"]
    }).then(function () {
      // When the chart was drawn, in ms since navigation started (read by bench_web.py).
      holder.setAttribute("data-rendered-ms", String(Math.round(performance.now())));
      holder.setAttribute("data-rendered", "true");
    });

    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () {
        pending = null;
        var update = fit();
        update.width = holder.clientWidth;
        Plotly.relayout(holder, update).then(function () {
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
