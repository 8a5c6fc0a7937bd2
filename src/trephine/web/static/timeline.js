// Draws the server-built Plotly figure embedded in the page as JSON. No data is fetched:
// the figure is exactly what the server rendered into the page (and into the table below it).
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("timeline-chart");
    var source = document.getElementById("timeline-figure");
    if (!holder || !source || typeof Plotly === "undefined") { return; }
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(holder, figure.data, figure.layout, {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["sendDataToCloud"]
    }).then(function () { holder.setAttribute("data-rendered", "true"); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
