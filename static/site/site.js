// Tell the server the viewer's time zone (it renders times in it from the next page on) and, on this page,
// show every <time data-local> in local time and keep every countdown current.
(function () {
  "use strict";
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && document.cookie.indexOf("tz=" + tz) === -1) {
    document.cookie = "tz=" + tz + "; path=/; max-age=31536000; SameSite=Lax";
  }
  document.querySelectorAll("[data-tz-name]").forEach(function (el) { if (tz) el.textContent = tz; });

  var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    el.textContent = fmt.format(new Date(el.getAttribute("datetime"))) + (tz ? " (" + tz + ")" : "");
  });

  function left(ms) {
    if (ms <= 0) return "closed";
    var m = Math.floor(ms / 60000), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60);
    m = m % 60;
    if (d > 0) return d + (d === 1 ? " day " : " days ") + h + (h === 1 ? " hour" : " hours") + " left";
    if (h > 0) return h + (h === 1 ? " hour " : " hours ") + m + (m === 1 ? " minute" : " minutes") + " left";
    return m + (m === 1 ? " minute" : " minutes") + " left";
  }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var ms = new Date(el.getAttribute("data-countdown")).getTime() + 1000 - Date.now();
      el.textContent = left(ms);
      el.classList.toggle("text-danger", ms > 0 && ms < 86400000);
    });
  }
  tick();
  setInterval(tick, 30000);

  // A live count under every field with a limit: the help text states it, maxlength enforces it.
  document.querySelectorAll("[data-counter][maxlength]").forEach(function (field) {
    var limit = parseInt(field.getAttribute("maxlength"), 10);
    var counter = document.createElement("div");
    counter.className = "form-text char-counter";
    field.insertAdjacentElement("afterend", counter);
    function count() {
      var n = field.value.length;  // line breaks count once, as the server counts them
      counter.textContent = n.toLocaleString() + " of " + limit.toLocaleString() + " characters";
      counter.classList.toggle("text-danger", n >= limit * 0.9);
    }
    field.addEventListener("input", count);
    count();
  });

  // A long text is shown shortened (its start and its end); "Show all" loads the whole of it only then.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-expand]");
    if (!button) return;
    var box = button.parentElement.querySelector("[data-long-text]");
    button.disabled = true;
    button.textContent = "Loading…";
    fetch(button.getAttribute("data-expand"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status + " " + response.statusText);
        return response.json();
      })
      .then(function (example) {
        box.textContent = example[button.getAttribute("data-field")];
        button.remove();
      })
      .catch(function (error) {
        button.disabled = false;
        button.textContent = "Could not load the full text (" + error.message + "); try again";
      });
  });
})();
