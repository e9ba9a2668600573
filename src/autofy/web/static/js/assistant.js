// The assistant's chat: sends the message box with fetch() asking for server-sent events, shows
// the answer as the model writes it (as text: nothing the model writes becomes markup here), and
// the tools it uses as activity lines. Once the turn is saved, the server's own rendering of the
// conversation (markdown sanitized server-side, the workflow preview) replaces the streamed draft.
// Without this script the form still posts and the page reloads with the answer.
"use strict";

(function () {
  var form = document.querySelector("[data-chat-form]");
  if (!form || !window.fetch || !window.TextDecoder) return;
  var main = document.getElementById("chat-main");
  var textarea = form.querySelector("textarea");
  var sessionInput = form.querySelector("[data-chat-session]");
  var sendButton = form.querySelector("[data-chat-send]");
  var errorLine = form.querySelector("[data-chat-error]");
  var announce = document.querySelector("[data-chat-announce]");
  var activity = JSON.parse(main.dataset.activity || "{}");
  var busy = false;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The same sentences as the server's activity lines: "{query}" is the call's argument.
  function activityLine(name, args) {
    var sentence = activity[name] || "Used " + name;
    return sentence.replace(/\{(\w+)\}/g, function (_, key) {
      var value = args && args[key];
      return value === undefined || value === null || typeof value === "object" ? "" : String(value);
    });
  }

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = !message;
    textarea.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function messagesList() {
    var empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
    return document.getElementById("chat-messages");
  }

  // A user bubble and an answer being written, appended to the conversation.
  function startTurn(text) {
    var list = messagesList();
    var mine = element("li", "chat-message chat-user");
    mine.appendChild(element("p", "visually-hidden", "You wrote:"));
    mine.appendChild(element("div", "chat-bubble chat-plain", text));
    list.appendChild(mine);
    var answer = element("li", "chat-message chat-assistant chat-streaming");
    answer.setAttribute("aria-busy", "true");
    answer.appendChild(element("p", "visually-hidden", "The assistant answered:"));
    var lines = element("ul", "chat-activity");
    lines.setAttribute("aria-label", "What the assistant did");
    var bubble = element("div", "chat-bubble chat-plain");
    var status = element("p", "chat-meta", "Thinking…");
    status.setAttribute("role", "status");
    answer.appendChild(lines);
    answer.appendChild(bubble);
    answer.appendChild(status);
    list.appendChild(answer);
    answer.scrollIntoView({ block: "end" });
    return { answer: answer, lines: lines, bubble: bubble, status: status };
  }

  function failTurn(turn, message) {
    announce.textContent = message;
    turn.answer.removeAttribute("aria-busy");
    turn.status.remove();
    var alert = element("div", "alert alert-error chat-error");
    alert.setAttribute("role", "alert");
    alert.textContent = message;
    turn.answer.appendChild(alert);
  }

  // Swap in the server's rendering: each top-level element of the fragment replaces its namesake.
  function refresh(sessionId) {
    return fetch("/assistant/" + sessionId + "/conversation", { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fragment = document.createElement("template");
        fragment.innerHTML = html;
        // A copy: replaceWith() takes each element out of the live `children` collection.
        Array.prototype.slice.call(fragment.content.children).forEach(function (fresh) {
          var old = fresh.id && document.getElementById(fresh.id);
          if (old) old.replaceWith(fresh);
        });
        var last = document.querySelector("#chat-messages > li:last-child");
        if (last) last.scrollIntoView({ block: "nearest" });
        // The answer was swapped in whole: tell screen readers it is there.
        announce.textContent = "The assistant answered.";
      });
  }

  // Server-sent events from a fetch() body: blocks separated by a blank line.
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
        var blocks = buffer.split("\n\n");
        buffer = chunk.done ? "" : blocks.pop();
        blocks.forEach(function (block) {
          var kind = "message";
          var data = [];
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data.push(line.slice(5).trim());
          });
          if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
        });
        return chunk.done ? undefined : pump();
      });
    }
    return pump();
  }

  function send(text) {
    busy = true;
    sendButton.disabled = true;
    showError("");
    announce.textContent = "";
    var body = new FormData(form);
    textarea.value = "";
    var turn = startTurn(text);
    var saved = false;
    var refusal = "";
    var sessionId = sessionInput.value;
    fetch(form.action, {
      method: "POST",
      body: body,
      headers: { Accept: "text/event-stream", "X-CSRF-Token": body.get("csrf_token") },
    })
      .then(function (response) {
        if (!response.ok || !response.body) {
          throw new Error(response.status === 403
            ? "This page has expired; reload it and send again."
            : "The message could not be sent (HTTP " + response.status + "). Reload the page and try again.");
        }
        if ((response.headers.get("Content-Type") || "").indexOf("text/event-stream") !== 0) {
          // Redirected to the sign-in page: the browser session ended.
          throw new Error("You were signed out. Reload the page and sign in again; your message was not sent.");
        }
        sessionId = response.headers.get("X-Chat-Session") || sessionId;
        if (sessionId && sessionInput.value !== sessionId) {
          sessionInput.value = sessionId;
          window.history.replaceState(null, "", "/assistant/" + sessionId);
        }
        return readEvents(response, function (kind, data) {
          if (kind === "token") {
            if (!turn.bubble.firstChild) turn.status.textContent = "Writing…";
            turn.bubble.appendChild(document.createTextNode(data.text));
          } else if (kind === "tool_call") {
            turn.lines.appendChild(element("li", "", activityLine(data.name, data.arguments)));
          } else if (kind === "tool_result" && !data.ok) {
            var last = turn.lines.lastElementChild;
            if (last) last.textContent += ": it found problems";
          } else if (kind === "message") {
            saved = true;
          } else if (kind === "error") {
            refusal = data.error.message;
          }
        });
      })
      .then(function () {
        // A saved turn is shown as the server renders it; a refused one (credits used up, a closed
        // conversation) was not saved, and says why.
        if (saved) return refresh(sessionId);
        failTurn(turn, refusal || "The assistant did not answer. Send your message again.");
        return undefined;
      })
      .catch(function (error) {
        failTurn(turn, error.message);
      })
      .then(function () {
        busy = false;
        sendButton.disabled = false;
        textarea.focus();
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    var text = textarea.value.trim();
    if (!text) {
      showError("Write a message first.");
      textarea.focus();
      return;
    }
    send(text);
  });

  // Enter sends, Shift+Enter starts a new line (as in most chat windows).
  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
})();
