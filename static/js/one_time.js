/* One-time values (templates/components/one_time_value.html): open each such <dialog> as a modal as soon
   as it is on the page (first load or an htmx swap), with focus on its copy button. Escape does not dismiss
   it: only "I have stored it" does, and closing removes the dialog (and the value) from the page. */
(function () {
  "use strict";

  function open(dialog) {
    if (dialog.dataset.oneTimeShown || typeof dialog.showModal !== "function") return;
    dialog.dataset.oneTimeShown = "1";
    dialog.addEventListener("cancel", function (event) { event.preventDefault(); });
    dialog.addEventListener("close", function () { dialog.remove(); });
    dialog.removeAttribute("open"); // rendered open for pages without script; showModal needs it closed
    dialog.showModal();
    var first = dialog.querySelector("[autofocus]") || dialog.querySelector("button");
    if (first) first.focus();
  }

  function openWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("dialog[data-one-time]")) open(root);
    root.querySelectorAll("dialog[data-one-time]").forEach(open);
  }

  document.addEventListener("htmx:load", function (event) { openWithin(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { openWithin(document); });
  } else {
    openWithin(document);
  }
})();
