// The console's and the portal's small progressive enhancements (docs/design-system.md).
// Every page works without this file: it adds the narrow-screen menu and copy buttons.
(function () {
  "use strict";

  function initMenu(root) {
    var shell = root.querySelector("[data-shell]");
    var toggle = root.querySelector("[data-menu-toggle]");
    if (!shell || !toggle) return;
    var panel = document.getElementById(toggle.getAttribute("aria-controls"));
    shell.classList.add("js");
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      panel.setAttribute("data-open", String(open));
    });
  }

  // <button type="button" data-copy="#element-id">Copy</button>: copies the element's value or
  // text, and says so in the button (and to screen readers, via its live region).
  function initCopy(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.copyReady) return;
      button.dataset.copyReady = "1";
      var label = button.textContent;
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        if (!source) return;
        var text = "value" in source && source.value !== undefined ? source.value : source.textContent;
        var done = function (ok) {
          button.textContent = ok ? button.getAttribute("data-copied") || "Copied" : "Copy failed";
          setTimeout(function () { button.textContent = label; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
        } else {
          if (source.select) { source.select(); }
          try { done(document.execCommand("copy")); } catch (e) { done(false); }
        }
      });
    });
  }

  // <button type="button" data-print>Print</button>
  function initPrint(root) {
    root.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initMenu(document);
    initCopy(document);
    initPrint(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) { initCopy(event.target); });
})();
