// The workflow builder (templates/workflows/builder.html). The server renders every card and
// checks every change (htmx posts the form to /workflows/builder/check); this file only moves and
// removes step cards, keeps their numbers right, and inserts data picker references.
"use strict";

(function () {
  var form = document.getElementById("builder-form");
  if (!form) return;
  var steps = document.getElementById("steps");
  var announce = document.getElementById("builder-announce");
  var lastField = null; // the text field the data picker inserts into

  function cards() {
    return Array.prototype.slice.call(steps.querySelectorAll(":scope > [data-step-card]"));
  }

  function changed(message) {
    cards().forEach(function (card, index) {
      var number = card.querySelector("[data-step-number]");
      if (number) number.textContent = "Step " + (index + 1);
    });
    if (message) announce.textContent = message;
    // The server checks the form again (and the step order with it).
    htmx.trigger(form, "builder:changed");
  }

  // A card travels with the "add a step" point that follows it.
  function move(card, before) {
    var insert = card.nextElementSibling;
    steps.insertBefore(card, before);
    steps.insertBefore(insert, before);
  }

  function moveBy(card, offset) {
    var all = cards();
    var index = all.indexOf(card);
    var target = index + offset;
    if (target < 0 || target >= all.length) return false;
    if (offset < 0) move(card, all[target]);
    else move(card, all[target].nextElementSibling.nextElementSibling);
    return true;
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-move], [data-remove-step], [data-insert]");
    if (!button) return;
    var card = button.closest("[data-step-card]");
    if (button.dataset.move && card) {
      if (moveBy(card, button.dataset.move === "up" ? -1 : 1)) {
        button.focus();
        changed("Step moved to position " + (cards().indexOf(card) + 1) + ".");
      }
    } else if (button.hasAttribute("data-remove-step") && card) {
      var insert = card.nextElementSibling;
      var next = insert && insert.nextElementSibling ? insert.nextElementSibling : card.previousElementSibling;
      card.remove();
      insert.remove();
      var focusable = next && next.querySelector("button, select, input");
      if (focusable) focusable.focus();
      changed("Step removed.");
    } else if (button.dataset.insert) {
      insertReference(button.dataset.insert, button.closest(".step-card, .trigger-card"));
    }
  });

  // The data picker: remember the text field last focused; insert at its caret.
  form.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-pickable]")) lastField = event.target;
  });

  function insertReference(text, card) {
    var field = lastField && card && card.contains(lastField) ? lastField : card && card.querySelector("[data-pickable]");
    if (!field) return;
    var start = field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === null ? field.value.length : field.selectionEnd;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
    field.dispatchEvent(new Event("input", { bubbles: true }));
    announce.textContent = "Inserted " + text + ".";
  }

  // Drag and drop by the handle: cards are draggable, but a drag starts only from a handle (so
  // text in a card's fields can still be selected); the card follows the pointer.
  var dragged = null;
  var grabbed = false;
  steps.addEventListener("pointerdown", function (event) {
    grabbed = event.target.closest("[data-drag-handle]") !== null;
  });
  steps.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-step-card]");
    if (!grabbed || !card || event.target !== card) {
      event.preventDefault();
      return;
    }
    dragged = card;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.id);
  });
  steps.addEventListener("dragover", function (event) {
    var over = event.target.closest("[data-step-card]");
    if (!dragged || !over || over === dragged) return;
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    move(dragged, after ? over.nextElementSibling.nextElementSibling : over);
  });
  steps.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    grabbed = false;
    changed("Step moved to position " + (cards().indexOf(dragged) + 1) + ".");
    dragged = null;
  });
  steps.addEventListener("drop", function (event) {
    if (dragged) event.preventDefault();
  });

  // After a swap: mark the fields the server's check found problems in; after a card was added
  // or rendered again (another action, another trigger), renumber and check the form again.
  var rendersCards = /^\/workflows\/builder\/(card|trigger|new-step)/;
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var path = (event.detail.pathInfo && event.detail.pathInfo.requestPath) || "";
    if (rendersCards.test(path)) changed();
    form.querySelectorAll("[data-error-slot]").forEach(function (slot) {
      var invalid = slot.querySelector(".field-error") !== null;
      // A problem in a folded section unfolds it.
      var folded = invalid && slot.closest("details:not([open])");
      if (folded) folded.open = true;
      form.querySelectorAll('[aria-describedby~="' + slot.id + '"]').forEach(function (field) {
        if (invalid) field.setAttribute("aria-invalid", "true");
        else field.removeAttribute("aria-invalid");
      });
    });
  });

  // A saved workflow is checked as soon as htmx has wired the form up; a new one only once the
  // user starts (an empty form is not yet wrong).
  document.addEventListener("DOMContentLoaded", function () {
    if (form.elements.workflow_id.value) changed();
  });
})();
