/* Dynamic secret leases: the expiry countdown, focusing the one-time credentials box, and
   "I have stored it". Loaded as a file by the lease pages (the CSP forbids inline script). The
   server renders the remaining time; this only keeps it moving between refreshes. */
(function () {
  "use strict";

  function pad(number) { return number < 10 ? "0" + number : String(number); }

  // The same wording as dynamic/templatetags/dynamic_secrets.py:duration_text.
  function durationText(seconds) {
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var secs = seconds % 60;
    if (days) return days + "d " + hours + "h";
    if (hours) return hours + "h " + pad(minutes) + "m";
    if (minutes) return minutes + "m " + pad(secs) + "s";
    return secs + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-expires-at]").forEach(function (element) {
      var expires = Date.parse(element.getAttribute("data-expires-at"));
      if (isNaN(expires)) return;
      var left = Math.floor((expires - now) / 1000);
      if (left > 0) {
        element.textContent = durationText(left);
        element.classList.toggle("countdown-soon", left < 300);
      } else {
        element.textContent = "expired, revoking";
        element.classList.add("countdown-over");
      }
    });
  }

  function focusOnce(root) {
    var box = (root || document).querySelector("[data-focus-once]");
    if (!box) return;
    box.removeAttribute("data-focus-once");
    box.scrollIntoView({ block: "center" });
    var button = box.querySelector("button[data-copy-target]");
    (button || box).focus({ preventScroll: true });
  }

  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest("[data-dismiss-target]");
    if (!dismiss) return;
    var box = document.querySelector(dismiss.getAttribute("data-dismiss-target"));
    if (box) {
      box.replaceChildren();  // the credentials leave the page, not only the view
      box.remove();
    }
    var form = document.getElementById("lease-form");
    var next = form && form.querySelector("button[type=submit]");
    if (next) next.focus();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    tick();
    focusOnce(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    focusOnce(document);
  });
  window.setInterval(tick, 1000);
})();
