// A form sent back with errors focuses its error summary. A form sent once shows it: its submit buttons are disabled until the answer arrives,
// so a double tap sends nothing twice (the form's one-time token already makes a second
// copy harmless; this spares the person the wait). Without JavaScript, forms work as is.
(function () {
  // A form sent back with errors: the summary at the top takes the focus, so a screen
  // reader says what went wrong and each link leads to its field.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.method.toLowerCase() !== "post") return;
    // Disabled at the next tick: a button disabled now would drop its own name=value.
    setTimeout(function () {
      var buttons = form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]");
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = true;
        buttons[i].setAttribute("aria-disabled", "true");
      }
    }, 0);
  });
  // Back to a page kept in the browser's memory: its buttons work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    var buttons = document.querySelectorAll("[aria-disabled=true]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = false;
      buttons[i].removeAttribute("aria-disabled");
    }
  });
})();
