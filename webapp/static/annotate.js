// Keyboard-first judging for the annotate page. The page works without this file: the
// choice buttons submit the form. With it: 1-4 pick a choice, q/w/e the strength, r the
// reason box (Esc leaves it), Enter submits, s skips; visible time on the page is measured
// and sent.
(function () {
  "use strict";
  var form = document.getElementById("judgment-form");
  if (!form) return;
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

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    var target = event.target;
    var typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" && target.type === "text");
    if (typing) {
      if (event.key === "Escape") {
        target.blur();
        event.preventDefault();
      } else if (event.key === "Enter" && !event.shiftKey && target === reason) {
        event.preventDefault(); // Shift+Enter for a new line
        submit(selected);
      }
      return;
    }
    var key = event.key;
    if (key >= "1" && key <= "4") {
      select(buttons[Number(key) - 1]);
      event.preventDefault();
    } else if (strengthKeys[key.toLowerCase()]) {
      var radio = form.querySelector("input[name=strength][value='" + strengthKeys[key.toLowerCase()] + "']");
      if (radio) radio.checked = true;
      event.preventDefault();
    } else if (key === "r" || key === "R") {
      if (reason) reason.focus();
      event.preventDefault();
    } else if ((key === "s" || key === "S") && skipForm && !event.shiftKey) {
      if (submitting) return;
      submitting = true;
      event.preventDefault();
      skipForm.submit();
    } else if (key === "Enter") {
      var focused = document.activeElement;
      // A link or the skip button keeps its own Enter.
      if (focused && (focused.tagName === "A" || focused.form && focused.form !== form)) return;
      event.preventDefault();
      submit(selected || (buttons.indexOf(focused) >= 0 ? focused : null));
    } else if (key === "Escape") {
      select(null);
    }
  });

  // A click on a choice button also works (it submits natively); reflect it for the hint.
  buttons.forEach(function (b) {
    b.addEventListener("click", function () { select(b); });
  });
  // The page may be restored from the back/forward cache: allow submitting again.
  window.addEventListener("pageshow", function () { submitting = false; });
})();
