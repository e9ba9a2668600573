// Integrations page: after a connection test swaps an integration's card (htmx), move the focus
// to the test's answer, so keyboard and screen reader users land on it instead of the page's top.
"use strict";

function forgetTestResults() {
  document.querySelectorAll("[data-test-result]").forEach(function (result) {
    result.removeAttribute("data-test-result");
  });
}

document.addEventListener("DOMContentLoaded", forgetTestResults);
document.addEventListener("htmx:afterSettle", function () {
  var result = document.querySelector("[data-test-result]");
  if (result) result.focus();
  forgetTestResults();
});
