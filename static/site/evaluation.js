// The version page's evaluation (and each reproduction's section beside it): draw the plotly charts, and while
// runs are unfinished poll their progress; when a run finishes (or a new one appears) fetch the section as the
// server now renders it and swap it in place, keeping the scroll position and the opened example tables.
(function () {
  "use strict";
  var sections = document.querySelectorAll("#evaluation, section.reproduction[data-evidence-url]");
  if (!sections.length) return;

  // plotly's "Download plot" button, drawing the image as the server's PNG does: titled with the task, the
  // series and the metric (kept in the figure's meta) and without the linear/log buttons, on the axis shown.
  var downloadButton = {
    name: "Download plot as a png",
    icon: window.Plotly && Plotly.Icons.camera,
    click: function (gd) {
      var meta = gd.layout.meta || {};
      var layout = Object.assign({}, gd.layout, { updatemenus: [] });
      if (meta.image_title) {
        layout.title = { text: meta.image_title, x: 0.5 };
        layout.margin = Object.assign({}, gd.layout.margin, { t: meta.image_margin_top });
      }
      Plotly.downloadImage({ data: gd.data, layout: layout }, {
        format: "png", width: 800, height: 500, filename: gd.dataset.filename || "chart"
      });
    }
  };

  function draw(root) {
    root.querySelectorAll("[data-figures]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figures);
      var data = source && JSON.parse(source.textContent)[el.dataset.key];
      if (data && window.Plotly) {
        // The server names plotly's template rather than repeating it in every chart (plotly-template.js).
        if (typeof data.layout.template === "string") {
          data.layout.template = (window.plotlyTemplates || {})[data.layout.template];
        }
        Plotly.newPlot(el, data.data, data.layout, {
          responsive: true, displaylogo: false,
          modeBarButtonsToRemove: ["toImage"], modeBarButtonsToAdd: [downloadButton]
        });
      }
    });
  }

  function statuses(root) {
    var known = {};
    root.querySelectorAll("[data-run]").forEach(function (el) { known[el.dataset.run] = el.dataset.status; });
    return known;
  }

  function isFinished(status) { return status === "succeeded" || status === "failed"; }

  function watch(section) {
    var known = statuses(section);

    // Moves a progress bar in place; true when the run's new state needs markup from the server.
    function update(run) {
      var before = known[run.id];
      if (before === undefined) return true;
      var el = section.querySelector('[data-run="' + run.id + '"]');
      var bar = el.querySelector(".progress");
      var status = el.querySelector(".run-status");
      if (run.status === "running" && bar) {
        status.textContent = "Running · " + run.done + " / " + run.total;
        bar.setAttribute("aria-valuenow", run.percent);
        var inner = bar.querySelector(".progress-bar");
        inner.classList.remove("bg-secondary");
        inner.classList.add("progress-bar-striped", "progress-bar-animated");
        inner.style.width = run.percent + "%";
        inner.textContent = run.percent + "%";
      } else if (run.status === "queued" && bar) {
        status.textContent = run.queue_position
          ? "Queued · position " + run.queue_position + " · " + run.estimated_start_text
          : "Queued";
      }
      return before !== run.status && (isFinished(run.status) || isFinished(before));
    }

    function swap(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
      if (!fresh) throw new Error("the section " + section.id + " is missing from the server's answer");
      var opened = {};
      section.querySelectorAll("details[open] > summary").forEach(function (s) { opened[s.textContent.trim()] = true; });
      fresh.querySelectorAll("details > summary").forEach(function (s) {
        if (opened[s.textContent.trim()]) s.parentElement.open = true;
      });
      var x = window.scrollX, y = window.scrollY;
      if (window.Plotly) section.querySelectorAll(".js-plotly-plot").forEach(function (el) { Plotly.purge(el); });
      section.replaceWith(fresh);
      section = fresh;
      known = statuses(section);
      draw(section);
      window.scrollTo(x, y);
    }

    function refresh() {
      return fetch(section.dataset.evidenceUrl, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(swap);
    }

    function poll() {
      fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (state) {
          var changed = false;
          var delayed = section.querySelector(".evaluation-delayed");
          if (delayed) {
            delayed.textContent = state.delayed || "";
            delayed.hidden = !state.delayed;
          }
          state.runs.forEach(function (run) { changed = update(run) || changed; });
          if (!changed) return !state.finished;
          return refresh().then(function () { return section.dataset.finished !== "true"; });
        })
        .then(function (more) { if (more) setTimeout(poll, 2000); })
        .catch(function () { setTimeout(poll, 5000); });
    }

    draw(section);
    if (section.dataset.finished !== "true") poll();
  }

  sections.forEach(watch);
})();
