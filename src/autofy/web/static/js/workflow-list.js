// Workflows list: the active switch swaps its whole row (htmx); give the focus back to the new
// row's switch so keyboard users keep their place (and hear a refusal, linked to the switch).
"use strict";

var switchInFlight = null;

document.addEventListener("htmx:beforeRequest", function (event) {
  var element = event.detail.elt;
  if (element && element.matches("input[role=switch]")) switchInFlight = element.id;
});

document.addEventListener("htmx:afterSettle", function () {
  if (!switchInFlight) return;
  var replaced = document.getElementById(switchInFlight);
  switchInFlight = null;
  if (replaced) replaced.focus();
});
