// charts.js: draws the analytics charts with the vendored Chart.js (global `Chart`).
// Each <canvas data-chart="ID"> names a <script type="application/json" id="ID"> block holding
// {type, labels, datasets: [{label, data}], stacked, horizontal}. The JSON block is data, never run,
// so the CSP (script-src 'self') stays intact; this file is the only code.
(function () {
  "use strict";

  // Distinct on a tablet in daylight, and in the order series usually appear.
  var PALETTE = ["#1f6fb2", "#e0802b", "#2e9d5b", "#c2413b", "#7b5ea7", "#8c6a4f", "#d16ba5", "#5f6b73"];

  function spec(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) return null;
    try {
      return JSON.parse(source.textContent);
    } catch (err) {
      return null;
    }
  }

  function config(data) {
    var several = data.datasets.length > 1;
    var valueAxis = data.horizontal ? "x" : "y";
    var scales = {
      x: { stacked: data.stacked, ticks: { font: { size: 14 } } },
      y: { stacked: data.stacked, ticks: { font: { size: 14 } } },
    };
    scales[valueAxis].beginAtZero = true;
    scales[valueAxis].ticks.precision = 0; // counts of customers: whole numbers only
    return {
      type: data.type || "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, i) {
          var color = PALETTE[i % PALETTE.length];
          return { label: set.label, data: set.data, backgroundColor: color, borderColor: color };
        }),
      },
      options: {
        indexAxis: data.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: data.horizontal ? 1.5 : 1.3,
        animation: false,
        plugins: {
          legend: { display: several, position: "bottom", labels: { font: { size: 14 }, boxWidth: 18, padding: 14 } },
          tooltip: { titleFont: { size: 14 }, bodyFont: { size: 14 } },
        },
        scales: scales,
      },
    };
  }

  function drawAll() {
    if (!window.Chart) return;
    window.Chart.defaults.font.size = 14;
    window.Chart.defaults.font.family =
      'system-ui, -apple-system, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
    var canvases = document.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var data = spec(canvas);
      if (data && !window.Chart.getChart(canvas)) new window.Chart(canvas, config(data));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
