// Progressive enhancement only: every action works without this script.
(function () {
  "use strict";
  // "Select all" for the work queue's item checkboxes.
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.hidden = false;
    var label = document.querySelector("label[for='" + box.id + "']");
    if (label) { label.hidden = false; }
    box.addEventListener("change", function () {
      var scope = document.getElementById(box.getAttribute("data-select-all"));
      if (!scope) { return; }
      scope.querySelectorAll("input[type=checkbox][name=item]").forEach(function (item) {
        item.checked = box.checked;
      });
    });
  });
  // Ask before actions that cannot be undone (resolve, ignore, reject, approve, replay).
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // Bring the located segment into view on the raw message page.
  var located = document.getElementById("located");
  if (located) { located.scrollIntoView({ block: "center" }); }
})();
