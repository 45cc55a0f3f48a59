// The examples page's form works without JavaScript (a GET form and a "Show" button); with it, choosing a
// model, a comparison or a sort shows the result at once, from the first page.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (!form) return;
  form.querySelectorAll("select").forEach(function (select) {
    select.addEventListener("change", function () { form.requestSubmit(); });
  });
})();
