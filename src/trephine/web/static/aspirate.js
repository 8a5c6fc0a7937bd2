// Aspirate labelling page (web/aspirate.py): a click on the image adds "x,y,class" (image
// pixels) to the labels text area, with the class chosen in the list; a mark shows each cell.
(function () {
  "use strict";
  function start() {
    var img = document.getElementById("aspirate-image");
    var box = document.getElementById("aspirate-image-box");
    var labels = document.getElementById("a-labels");
    var chosen = document.getElementById("a-class");
    var tally = document.getElementById("aspirate-tally");
    if (!img || !labels || !chosen || !box) return;
    var width = Number(img.dataset.width), height = Number(img.dataset.height);

    function lines() {
      return labels.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
    }
    function redraw() {
      Array.prototype.slice.call(box.querySelectorAll(".aspirate-mark")).forEach(function (m) { m.remove(); });
      var counts = {};
      lines().forEach(function (line) {
        var p = line.split(",");
        if (p.length !== 3) return;
        var mark = document.createElement("span");
        mark.className = "aspirate-mark";
        mark.title = p[2].trim();
        mark.style.left = (100 * Number(p[0]) / width) + "%";
        mark.style.top = (100 * Number(p[1]) / height) + "%";
        box.appendChild(mark);
        counts[p[2].trim()] = (counts[p[2].trim()] || 0) + 1;
      });
      var total = lines().length;
      tally.textContent = total + " cell" + (total === 1 ? "" : "s") + " labelled" +
        (total ? ": " + Object.keys(counts).map(function (k) { return k + " " + counts[k]; }).join(", ") : "");
    }
    img.addEventListener("click", function (event) {
      var rect = img.getBoundingClientRect();
      var x = Math.floor((event.clientX - rect.left) * width / rect.width);
      var y = Math.floor((event.clientY - rect.top) * height / rect.height);
      x = Math.min(Math.max(x, 0), width - 1);
      y = Math.min(Math.max(y, 0), height - 1);
      var text = labels.value;
      if (text && !text.endsWith("\n")) text += "\n";
      labels.value = text + x + "," + y + "," + chosen.value + "\n";
      redraw();
    });
    labels.addEventListener("input", redraw);
    redraw();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
