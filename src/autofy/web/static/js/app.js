// Behaviour shared by every page. No inline scripts or handlers anywhere (the CSP forbids them):
// pages declare what they need with data- attributes and this file wires it up.
"use strict";

// <button data-copy="text to copy">Copy</button>: copies, then says so for a moment.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    window.setTimeout(function () { button.textContent = label; }, 1500);
  });
});

// The account menu (<details class="user-menu">) closes on Escape and on a click elsewhere.
document.addEventListener("click", function (event) {
  document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
    if (!menu.contains(event.target)) menu.open = false;
  });
});
document.addEventListener("keydown", function (event) {
  var menu = document.querySelector("details.user-menu[open]");
  if (event.key === "Escape" && menu) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});
