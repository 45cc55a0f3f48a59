// The submission form: refuse a task file above the size limit before sending anything, beside the file field,
// so the answers typed in the form stay where they are.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var max = parseInt(input.dataset.maxBytes, 10);
    var form = input.form;
    var message = document.createElement("div");
    message.className = "invalid-feedback d-block";
    message.setAttribute("role", "alert");
    message.id = input.id + "_size";

    function check() {
      var file = input.files && input.files[0];
      var tooLarge = file && file.size > max;
      if (tooLarge) {
        message.textContent = "The file is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " +
          Math.round(max / 1048576) + " MB. Tasks above 10,000 examples are subsampled anyway, so a smaller " +
          "file loses nothing.";
        input.classList.add("is-invalid");
        input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + message.id).trim());
        input.insertAdjacentElement("afterend", message);
      } else if (message.parentNode) {
        message.remove();
        input.classList.remove("is-invalid");
      }
      return !tooLarge;
    }
    input.addEventListener("change", check);
    if (form) {
      form.addEventListener("submit", function (event) {
        if (!check()) { event.preventDefault(); input.focus(); }
      });
    }
  });
})();

// "Back to the form" on the page that refuses an upload: the browser restores what was typed.
document.querySelectorAll("[data-history-back]").forEach(function (button) {
  button.addEventListener("click", function () { window.history.back(); });
});
