/* Role selects save only on an explicit "Save" (forms marked data-explicit-save): the button stays
   disabled until the select differs from the saved value, so a slip of the wheel or keyboard changes
   nothing. Without script the button is simply always enabled. */
(function () {
  "use strict";

  function sync(form) {
    var select = form.querySelector("select");
    var button = form.querySelector("button[type=submit]");
    if (!select || !button) return;
    var changed = select.value !== form.dataset.savedValue;
    button.disabled = !changed;
    form.classList.toggle("is-dirty", changed);
  }

  function prepare(root) {
    if (!root || !root.querySelectorAll) return;
    var forms = Array.prototype.slice.call(root.querySelectorAll("form[data-explicit-save]"));
    if (root.matches && root.matches("form[data-explicit-save]")) forms.push(root);
    forms.forEach(function (form) {
      if (form.dataset.savedValue !== undefined) return;
      var select = form.querySelector("select");
      if (!select) return;
      form.dataset.savedValue = select.value;
      select.addEventListener("change", function () { sync(form); });
      select.addEventListener("input", function () { sync(form); });
      sync(form);
    });
  }

  document.addEventListener("htmx:load", function (event) { prepare(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { prepare(document); });
  } else {
    prepare(document);
  }
})();
