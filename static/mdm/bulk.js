// The device list's selection (docs/console-and-portal.md, "Bulk actions"). Without this file the
// checkboxes and the bar work as they are; it adds "select all on this page" and says how many
// devices are selected.
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("bulk-form");
    var all = document.querySelector("[data-bulk-all]");
    var count = form && form.querySelector("[data-bulk-count]");
    if (!form || !all || !count) return;
    var boxes = Array.prototype.slice.call(document.querySelectorAll("[data-bulk-device]"));
    // The words come translated from the bar's data-count-* attributes.
    var words = {
      none: form.dataset.countNone || "No device selected",
      one: form.dataset.countOne || "1 device selected",
      many: form.dataset.countMany || "%n devices selected",
    };

    function update() {
      var n = boxes.filter(function (box) { return box.checked; }).length;
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
      count.textContent = n === 0 ? words.none : n === 1 ? words.one : words.many.replace("%n", String(n));
    }

    all.hidden = false;
    count.hidden = false;
    all.disabled = boxes.length === 0;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
