// The income pages' behaviour, in a static file so the pages work under a
// Content-Security-Policy without 'unsafe-inline':
//  * draws every Plotly figure the server embedded with json_script
//    (<div data-figure="fig-id"> + <script id="fig-id" type="application/json">);
//  * follows a bar's month link when it is clicked (customdata[1]);
//  * sizes progress bars from data-progress-width, also after htmx swaps one in.
(function () {
  "use strict";

  const CONFIG = { responsive: true, displayModeBar: false, displaylogo: false };

  function drawCharts(root) {
    if (typeof window.Plotly === "undefined") return;
    root.querySelectorAll("[data-figure]").forEach((el) => {
      const source = document.getElementById(el.dataset.figure);
      if (!source || el.classList.contains("js-plotly-plot")) return;
      const figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, figure.data, figure.layout, CONFIG).then(() => {
        el.on("plotly_click", (event) => {
          const point = event.points && event.points[0];
          const url = point && Array.isArray(point.customdata) ? point.customdata[1] : "";
          // Only the page's own links: a figure never sends the browser elsewhere.
          if (typeof url === "string" && url.startsWith("/")) window.location.assign(url);
        });
      });
    });
  }

  function sizeBars(root) {
    root.querySelectorAll("[data-progress-width]").forEach((el) => {
      const width = Math.max(0, Math.min(100, Number(el.dataset.progressWidth) || 0));
      el.style.width = width + "%";
    });
  }

  function openLinkedRow() {
    // A link to /income/month/…/#journal-42 opens that journal's legs.
    const row = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (!row || !row.classList.contains("keel-legs-row")) return;
    row.hidden = false;
    document.querySelectorAll(`[data-toggle-row="${row.id}"]`).forEach((toggle) => {
      toggle.setAttribute("aria-expanded", "true");
      toggle.classList.add("active");
    });
  }

  function init(root) {
    drawCharts(root);
    sizeBars(root);
    openLinkedRow();
  }

  document.documentElement.classList.add("keel-js");

  // "Legs" links open and close the journal row under an item. Without JavaScript the
  // link still works: it targets the row, which CSS shows with :target.
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-toggle-row]");
    if (!toggle) return;
    const row = document.getElementById(toggle.dataset.toggleRow);
    if (!row) return;
    event.preventDefault();
    const open = row.hidden;
    row.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.classList.toggle("active", open);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => init(document));
  } else {
    init(document);
  }
  document.addEventListener("htmx:afterSettle", (event) => sizeBars(event.target));
})();
