/* Live figures of the differential entry form: running total, each class's percentage with its
   Wilson 95 % interval, blast % and M:E ratio. The server computes the same figures with
   trephine.analysis.stats.wilson when the form is saved (trephine/present/differential.py); this
   file only mirrors them while the lab counts. Plain JavaScript, no library, served from the
   package (CSP script-src 'self'). */
(function () {
  "use strict";
  var Z = 1.959963984540054; // the 97.5th percentile of the standard normal (95 % two-sided)
  var MYELOID = ["blasts", "promyelocytes", "myelocytes", "metamyelocytes", "bands",
                 "neutrophils", "eosinophils", "basophils"];
  var ERYTHROID = ["proerythroblasts", "erythroblasts"];

  function wilson(x, n) {
    var p = x / n, denom = 1 + Z * Z / n;
    var centre = (p + Z * Z / (2 * n)) / denom;
    var half = Z * Math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom;
    return [Math.max(0, centre - half), Math.min(1, centre + half)];
  }

  function oneDecimal(value) { // half-up, as labs round and as the server does
    return (Math.round(value * 10 + 1e-9) / 10).toFixed(1);
  }

  function pct(fraction) { return oneDecimal(fraction * 100); }

  function setText(el, text) { if (el) { el.textContent = text; } }

  function update(grid) {
    var inputs = grid.querySelectorAll("input.count");
    var counts = {}, total = 0, bad = false;
    inputs.forEach(function (input) {
      var text = input.value.trim();
      var n = text === "" ? 0 : Number(text);
      if (!/^\d*$/.test(text)) { bad = true; n = 0; }
      counts[input.dataset.cellClass] = n;
      total += n;
    });
    inputs.forEach(function (input) {
      var name = input.dataset.cellClass, n = counts[name];
      var pctCell = grid.querySelector('[data-pct="' + name + '"]');
      var ciCell = grid.querySelector('[data-ci="' + name + '"]');
      if (total > 0) {
        var ci = wilson(n, total);
        setText(pctCell, pct(n / total));
        setText(ciCell, pct(ci[0]) + "–" + pct(ci[1]) + " %");
      } else {
        setText(pctCell, "");
        setText(ciCell, "");
      }
    });
    var form = grid.closest("form") || document;
    setText(form.querySelector("#live-total"), bad ? total + " (whole numbers only)" : String(total));
    if (total > 0) {
      var blasts = counts.blasts || 0, ci = wilson(blasts, total);
      setText(form.querySelector("#live-blasts"), pct(blasts / total) + " %");
      setText(form.querySelector("#live-blasts-ci"), "(95 % CI " + pct(ci[0]) + "–" + pct(ci[1]) + " %)");
    } else {
      setText(form.querySelector("#live-blasts"), "—");
      setText(form.querySelector("#live-blasts-ci"), "");
    }
    var myeloid = 0, erythroid = 0;
    MYELOID.forEach(function (c) { myeloid += counts[c] || 0; });
    ERYTHROID.forEach(function (c) { erythroid += counts[c] || 0; });
    setText(form.querySelector("#live-me"), erythroid > 0 ? oneDecimal(myeloid / erythroid) + ":1" : "—");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".counts").forEach(function (grid) {
      grid.addEventListener("input", function () { update(grid); });
      update(grid);
    });
  });
})();
