// Small enhancements; every page works without them.
// 1. The header's menu button on a phone: the navigation folds behind it, so the header
//    stays under 100 px. Without JavaScript the links are simply shown.
// 2. The assignment picker's search box filters its list of volunteers as one types.
(function () {
  var header = document.querySelector(".site-header");
  var button = document.getElementById("menu-button");
  var nav = document.getElementById("site-nav");
  if (header && button && nav) {
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      header.classList.toggle("menu-open", open);
    });
  }
  var search = document.getElementById("volunteer-search");
  var select = document.getElementById("assign-volunteer");
  if (search && select) {
    var all = Array.prototype.slice.call(select.options);
    // Who the server refused (a clash, already booked) stays refused whatever is typed.
    var blocked = all.filter(function (o) { return o.disabled; });
    search.addEventListener("input", function () {
      var words = search.value.toLocaleLowerCase("vi").normalize("NFC").split(/\s+/).filter(Boolean);
      all.forEach(function (option) {
        var text = option.textContent.toLocaleLowerCase("vi").normalize("NFC");
        var shown = words.every(function (w) { return text.indexOf(w) >= 0; });
        option.hidden = !shown;
        option.disabled = !shown || blocked.indexOf(option) >= 0;
      });
      var first = all.filter(function (o) { return !o.disabled; })[0];
      if (first && select.selectedOptions[0] && select.selectedOptions[0].disabled) first.selected = true;
    });
  }
})();
