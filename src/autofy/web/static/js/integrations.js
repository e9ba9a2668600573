// Integrations page. After a connection test swaps an integration's card (htmx), move the focus
// to the test's answer, so keyboard and screen reader users land on it instead of the page's top.
"use strict";

function forgetTestResults() {
  document.querySelectorAll("[data-test-result]").forEach(function (result) {
    result.removeAttribute("data-test-result");
  });
}

// Arriving at a broken connection's card (Home's "Reconnect" links to #integration-<id>): open its
// form for new credentials.
function openReconnectForm() {
  var card = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  if (!card || !card.hasAttribute("data-needs-reconnect")) return;
  var form = card.querySelector("details.reconnect");
  if (form) form.open = true;
}

document.addEventListener("DOMContentLoaded", function () {
  forgetTestResults();
  openReconnectForm();
});
document.addEventListener("htmx:afterSettle", function () {
  var result = document.querySelector("[data-test-result]");
  if (result) result.focus();
  forgetTestResults();
});
