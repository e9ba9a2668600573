// The account pages (settings, API keys). Wired by data- attributes: the CSP forbids inline code.
"use strict";

// <form data-theme-form>: a theme takes effect as soon as it is picked (htmx then saves it).
document.addEventListener("change", function (event) {
  var input = event.target;
  if (input.name === "theme" && input.closest("form[data-theme-form]")) {
    document.documentElement.dataset.theme = input.value;
  }
});

// <form data-confirm="Question?">: asks before sending (revoking a key, signing out everywhere).
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// <input data-select-on-focus>: the whole new key is selected, ready to copy by hand.
document.addEventListener("focusin", function (event) {
  if (event.target.matches("input[data-select-on-focus]")) {
    event.target.select();
  }
});
