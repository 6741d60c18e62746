/* Strongroom UI behaviour that htmx does not cover. Loaded as a file: the CSP forbids inline script. */
(function () {
  "use strict";

  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    window.clearTimeout(box._timer);
    box._timer = window.setTimeout(function () { box.hidden = true; }, 4000);
  }

  function closePanel() {
    var panel = document.getElementById("panel");
    if (panel) panel.replaceChildren();
  }

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy-target]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy-target"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent).then(
          function () { toast("Copied to the clipboard"); },
          function () { toast("Copy failed: select the text and copy it"); }
        );
      }
      return;
    }
    if (event.target.closest("[data-close-panel]")) {
      closePanel();
      return;
    }
    // Clicking outside an open user menu (or a row menu, e.g. "Deactivate…") closes it.
    document.querySelectorAll("details.user-menu[open], details.row-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closePanel();
  });

  // htmx does not swap 5xx answers (see the htmx-config meta tag); say something instead.
  document.addEventListener("htmx:responseError", function (event) {
    toast("The server could not do that (" + event.detail.xhr.status + "). Try again, or reload the page.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Strongroom cannot be reached. Check your connection.");
  });
  // 403/404 and other refusals of an htmx request arrive as an event (HX-Trigger), not a swap.
  document.addEventListener("strongroom:error", function (event) {
    toast(event.detail && event.detail.message ? event.detail.message : "That did not work.");
  });
  // A session that ended mid-page: htmx is told to redirect (HX-Redirect); nothing else to do here.
})();
