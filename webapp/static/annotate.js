// Keyboard-first judging for the annotate page. The page works without this file: the
// choice buttons submit the form. With it: 1-4 pick a choice, q/w/e the strength, r the
// reason box (Esc leaves it), Enter submits, s skips; visible time on the page is measured
// and sent. The keys go through keys.js's registry (loaded first), so "?" lists them.
(function () {
  "use strict";
  var form = document.getElementById("judgment-form");
  if (!form || !window.prefloopKeys) return;
  var buttons = Array.prototype.slice.call(form.querySelectorAll("button[name=choice]"));
  var reason = form.querySelector("textarea[name=reason]");
  var seconds = form.querySelector("input[name=seconds_spent]");
  var hint = document.getElementById("judge-hint");
  var skipForm = document.getElementById("skip-form");
  var strengthKeys = { q: "1", w: "2", e: "3" };
  var selected = null;
  var submitting = false;

  // Time counts only while the tab is visible: a judgment left open over lunch is not 1 hour.
  var visibleMs = 0;
  var since = document.visibilityState === "visible" ? performance.now() : null;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      since = performance.now();
    } else if (since !== null) {
      visibleMs += performance.now() - since;
      since = null;
    }
  });
  function elapsedSeconds() {
    var ms = visibleMs + (since !== null ? performance.now() - since : 0);
    return (ms / 1000).toFixed(1);
  }

  function select(button) {
    selected = button;
    buttons.forEach(function (b) {
      var on = b === button;
      b.classList.toggle("selected", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    var side = button ? button.value : null;
    ["left", "right"].forEach(function (s) {
      var el = document.getElementById("response-" + s);
      if (!el) return;
      var picked = side === "left" || side === "right";
      el.classList.toggle("chosen", side === s || side === "tie");
      el.classList.toggle("rejected", side === "both_bad" || (picked && side !== s));
    });
    if (hint) hint.textContent = button ? "Enter to submit: " + button.textContent.replace(/\s*\d\s*$/, "") : "";
  }

  function submit(button) {
    if (submitting) return;
    if (!button) {
      if (hint) hint.textContent = "Pick a choice first: 1, 2, 3 or 4.";
      return;
    }
    submitting = true;
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit(button);
    } else {
      button.click();
    }
  }

  form.addEventListener("submit", function () {
    if (seconds) seconds.value = elapsedSeconds();
    submitting = true;
  });

  var keys = window.prefloopKeys;
  function typing(event) {
    var t = event.target;
    return !!t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" && t.type === "text");
  }

  buttons.forEach(function (button, i) {
    keys.register({
      key: String(i + 1),
      label: button.textContent.replace(/\s*\d\s*$/, "").trim(),
      group: "Judgment",
      run: function () { select(button); },
    });
  });
  Object.keys(strengthKeys).forEach(function (key) {
    var radio = form.querySelector("input[name=strength][value='" + strengthKeys[key] + "']");
    var label = radio && radio.parentNode ? radio.parentNode.textContent.replace(/\s+\S\s*$/, "").trim() : key;
    keys.register({
      key: key,
      label: "strength: " + label.toLowerCase(),
      group: "Judgment",
      run: function () { if (radio) radio.checked = true; },
    });
  });
  keys.register({
    key: "r",
    label: "write a reason",
    group: "Judgment",
    when: function () { return !!reason; },
    run: function () { reason.focus(); },
  });
  keys.register({
    key: "Enter",
    label: "submit the judgment (Shift+Enter: new line in the reason)",
    group: "Submit",
    inInputs: true,
    when: function (event) {
      if (typing(event)) return event.target === reason && !event.shiftKey;
      var focused = document.activeElement;
      // A link or the skip button keeps its own Enter.
      return !(focused && (focused.tagName === "A" || focused.form && focused.form !== form));
    },
    run: function (event) {
      if (event.target === reason) {
        submit(selected);
      } else {
        var focused = document.activeElement;
        submit(selected || (buttons.indexOf(focused) >= 0 ? focused : null));
      }
    },
  });
  keys.register({
    key: "s",
    label: "skip this one",
    group: "Submit",
    when: function (event) { return !!skipForm && !event.shiftKey; },
    run: function () {
      if (submitting) return false;
      submitting = true;
      skipForm.submit();
    },
  });
  keys.register({
    key: "Escape",
    label: "leave the reason box, or clear the choice",
    group: "Judgment",
    run: function (event) {
      if (typing(event)) {
        event.target.blur();
        return true;
      }
      select(null);
      return false;
    },
  });

  // A click on a choice button also works (it submits natively); reflect it for the hint.
  buttons.forEach(function (b) {
    b.addEventListener("click", function () { select(b); });
  });
  // The page may be restored from the back/forward cache: allow submitting again.
  window.addEventListener("pageshow", function () { submitting = false; });
})();
