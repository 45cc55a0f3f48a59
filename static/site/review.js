// The review form saves its draft as the reviewer types (a second after the last change) and before the page
// goes away, so a reload or a closed tab loses nothing. Without JavaScript, "Save draft" does the same.
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  if (!form || !form.dataset.autosave) return;
  var status = document.getElementById("autosave-status");
  var badge = document.getElementById("review-status");
  var timer = null, dirty = false, saving = false;

  function say(text, bad) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("text-danger", !!bad);
  }

  function save(keepalive) {
    if (!dirty || saving) return;
    dirty = false;
    saving = true;
    say("Saving…");
    fetch(form.dataset.autosave, {
      method: "POST", body: new FormData(form), credentials: "same-origin", keepalive: !!keepalive,
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, code: response.status, body: body }; });
    }).then(function (result) {
      if (result.ok) {
        var at = new Date(result.body.saved_at);
        say("Draft saved " + at.toLocaleTimeString());
        if (badge && badge.textContent === "Not started") { badge.textContent = "Draft"; badge.className = "badge text-bg-warning"; }
      } else if (result.code === 409) {
        say(result.body.error, true);
      } else {
        say("Not saved: a field is too long. Shorten it, or use Save draft to see where.", true);
      }
    }).catch(function () {
      dirty = true;  // try again with the next change, or on leaving
      say("Not saved (no connection); it will be tried again.", true);
    }).finally(function () { saving = false; if (dirty) schedule(); });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { save(false); }, 1000);
  }

  form.addEventListener("input", function () { dirty = true; schedule(); });
  form.addEventListener("change", function () { dirty = true; schedule(); });
  form.addEventListener("submit", function () { clearTimeout(timer); dirty = false; });
  window.addEventListener("pagehide", function () { save(true); });
})();
