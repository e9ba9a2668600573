// Runs pages: say whether the list or the run is updating live, and follow the stream's own
// signals ("paused": too many open tabs, it retries later; "signed-out": reload, which leads to
// the sign-in page).
(function () {
  "use strict";

  // state: "live" (a dot marks it), "paused" or "interrupted"; the text says the rest.
  function say(element, text, state) {
    const status = element.closest("[sse-connect]").querySelector("[data-live-status]");
    if (!status) return;
    status.dataset.state = state || "";
    if (status.textContent !== text) status.textContent = text;
  }

  document.addEventListener("htmx:sseOpen", function (event) {
    const element = event.target;
    const source = event.detail.source;
    delete element.dataset.paused;
    say(element, "Updating live.", "live");
    source.addEventListener("paused", function (message) {
      element.dataset.paused = "true";
      say(element, message.data, "paused");
    });
    source.addEventListener("signed-out", function () {
      source.close();
      window.location.reload();
    });
  });

  document.addEventListener("htmx:sseError", function (event) {
    if (!event.target.dataset.paused) say(event.target, "Live updates interrupted; reconnecting…", "interrupted");
  });

  document.addEventListener("htmx:sseClose", function (event) {
    if (event.detail.type === "message") say(event.target, "");
  });
})();
