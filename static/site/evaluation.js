// The version page's evaluation: draw the plotly charts, and while runs are unfinished poll their progress.
(function () {
  "use strict";
  var section = document.getElementById("evaluation");
  if (!section) return;

  section.querySelectorAll("[data-figures]").forEach(function (el) {
    var data = JSON.parse(document.getElementById(el.dataset.figures).textContent)[el.dataset.key];
    if (data && window.Plotly) {
      Plotly.newPlot(el, data.data, data.layout, { responsive: true, displaylogo: false });
    }
  });

  if (section.dataset.finished === "true") return;
  var url = section.dataset.statusUrl;
  var known = {};
  section.querySelectorAll("[data-run]").forEach(function (el) { known[el.dataset.run] = el.dataset.status; });

  function update(run) {
    var el = section.querySelector('[data-run="' + run.id + '"]');
    if (!el) return false;
    var bar = el.querySelector(".progress");
    var status = el.querySelector(".run-status");
    if (run.status === "running") {
      status.textContent = "Running · " + run.done + " / " + run.total;
      if (bar) {
        bar.setAttribute("aria-valuenow", run.percent);
        var inner = bar.querySelector(".progress-bar");
        inner.classList.remove("bg-secondary");
        inner.classList.add("progress-bar-striped", "progress-bar-animated");
        inner.style.width = run.percent + "%";
        inner.textContent = run.percent + "%";
      }
    } else if (run.status === "queued") {
      status.textContent = run.queue_position ? "Queued · position " + run.queue_position : "Queued";
    }
    return known[run.id] !== run.status && (run.status === "succeeded" || run.status === "failed");
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (state) {
        var changed = false;
        state.runs.forEach(function (run) { changed = update(run) || changed; });
        // A finished run brings a chart or a reason: draw the page again from the server.
        if (changed) { window.location.reload(); return; }
        if (!state.finished) setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
