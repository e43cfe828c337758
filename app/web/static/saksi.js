// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";
  var add = document.querySelector("[data-add-item]");
  if (add) {
    add.addEventListener("click", function () {
      var rows = document.querySelectorAll("[data-item]");
      var last = rows[rows.length - 1];
      var index = rows.length;
      var copy = last.cloneNode(true);
      copy.classList.remove("invalid");
      copy.querySelectorAll(".error").forEach(function (e) { e.remove(); });
      copy.querySelectorAll("[id]").forEach(function (el) { el.id = el.id.replace(/items-\d+-/, "items-" + index + "-"); });
      copy.querySelectorAll("label[for]").forEach(function (el) { el.htmlFor = el.htmlFor.replace(/items-\d+-/, "items-" + index + "-"); });
      copy.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/items-\d+-/, "items-" + index + "-");
        if (el.tagName === "SELECT") { el.selectedIndex = 0; } else { el.value = ""; }
        el.removeAttribute("aria-invalid");
      });
      last.after(copy);
      copy.querySelector("select").focus();
    });
  }
})();
