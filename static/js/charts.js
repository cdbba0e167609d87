// Draws Candor's charts from data the page embeds with json_script.
// Each <canvas data-chart="KIND" data-source="ID"> names its kind and the id
// of its JSON; every chart also has a table next to it for screen readers.
(() => {
  if (typeof Chart === "undefined") return;

  const BAND_COLOURS = { Healthy: "#198754", Strained: "#ffc107", Adversarial: "#b02a37" };
  const TONE_COLOURS = { Collaborative: "#5c9e7a", Tense: "#e0a800", Hostile: "#b02a37" };
  const PALETTE = ["#0d6efd", "#6f42c1", "#d63384", "#fd7e14", "#20c997", "#6c757d", "#0dcaf0", "#198754", "#b02a37"];

  const quiet = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  Chart.defaults.animation = quiet ? false : { duration: 300 };
  Chart.defaults.maintainAspectRatio = false;

  const monthLabel = (iso) =>
    new Date(`${iso}T00:00:00`).toLocaleDateString(undefined, { month: "short", year: "2-digit" });
  const data = (canvas) => {
    const payload = JSON.parse(document.getElementById(canvas.dataset.source).textContent);
    return canvas.dataset.key ? payload[canvas.dataset.key] : payload;
  };
  const series = (entries, colours) =>
    Object.entries(entries).map(([label, values], i) => ({
      label,
      data: values,
      backgroundColor: colours[label] || PALETTE[i % PALETTE.length],
      borderColor: colours[label] || PALETTE[i % PALETTE.length],
    }));

  const builders = {
    score: (d) => ({
      type: "line",
      data: {
        labels: d.months.map(monthLabel),
        datasets: [{ label: "Health score", data: d.scores, borderColor: "#0d6efd", spanGaps: true, tension: 0.2 }],
      },
      options: { scales: { y: { min: 0, max: 100 } }, plugins: { legend: { display: false } } },
    }),
    sparkline: (d) => ({
      type: "line",
      data: { labels: d.map((_, i) => i), datasets: [{ data: d, borderColor: "#6c757d", borderWidth: 1.5, pointRadius: 0, spanGaps: true }] },
      options: {
        responsive: false,
        events: [],
        scales: { x: { display: false }, y: { display: false, min: 0, max: 100 } },
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
      },
    }),
    bands: (d) => ({
      type: "bar",
      data: { labels: d.months.map(monthLabel), datasets: series(d.bands, BAND_COLOURS) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }),
    tones: (d) => ({
      type: "bar",
      data: { labels: d.months.map(monthLabel), datasets: series(d.tones, TONE_COLOURS) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }),
    decisions: (d) => ({
      type: "bar",
      data: { labels: d.quarters, datasets: series(d.decisions, {}) },
      options: { scales: { y: { beginAtZero: true } } },
    }),
    verdicts: (d) => ({
      type: "bar",
      data: {
        labels: Object.keys(d.verdicts),
        datasets: [{ label: "Disagreements", data: Object.values(d.verdicts), backgroundColor: PALETTE }],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } } },
    }),
    topics: (d) => ({
      type: "bar",
      data: {
        labels: Object.keys(d.topics),
        datasets: [{ label: "Disagreements", data: Object.values(d.topics), backgroundColor: "#0d6efd" }],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } } },
    }),
  };

  const charts = [];
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const build = builders[canvas.dataset.chart];
    if (build) charts.push(new Chart(canvas, build(data(canvas))));
  });

  // Printed pages get still, full-width charts.
  window.addEventListener("beforeprint", () => {
    charts.forEach((chart) => {
      chart.options.animation = false;
      chart.resize();
    });
  });
})();
