// Integrations page. After a connection test swaps an integration's card (htmx), move the focus
// to the test's answer, so keyboard and screen reader users land on it instead of the page's top.
"use strict";

function focusTestResult() {
  var result = document.querySelector("[data-test-result]");
  if (result) result.focus();
  document.querySelectorAll("[data-test-result]").forEach(function (answered) {
    answered.removeAttribute("data-test-result");
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

// A test clicked before htmx was ready posts the form and answers with a whole page: its answer
// takes the focus there too.
document.addEventListener("DOMContentLoaded", function () {
  focusTestResult();
  openReconnectForm();
});
document.addEventListener("htmx:afterSettle", focusTestResult);
