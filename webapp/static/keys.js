// The page's key registry: every page script registers its keys here, so one keydown listener
// dispatches them and the "?" overlay lists them all (a key that is not registered does not exist
// for the annotator). Load it before any script that registers.
//
//   prefloopKeys.register({key: "b", label: "write a better answer", group: "Answers",
//                          when: function (event) { return true; },   // optional
//                          run: function (event) { ... },
//                          inInputs: false});                          // optional
//   prefloopKeys.list()  -> [{key, label, group}, ...] in registration order
//
// Keys typed into an input, textarea or select are left alone, except Esc and keys registered with
// inInputs: true. Letter keys match either case. The first registered entry for a key whose
// `when` says yes runs; `run` returning false lets the browser keep its default.
(function () {
  "use strict";
  if (window.prefloopKeys) return;
  var entries = [];
  var overlay = null;
  var returnFocus = null;

  function norm(key) {
    return key && key.length === 1 ? key.toLowerCase() : key;
  }

  function register(spec) {
    if (!spec || !spec.key || typeof spec.run !== "function") {
      throw new Error("prefloopKeys.register needs {key, label, group, run}");
    }
    entries.push({
      key: spec.key,
      label: spec.label || spec.key,
      group: spec.group || "Other",
      when: spec.when || null,
      run: spec.run,
      inInputs: !!spec.inInputs,
    });
    if (overlay) fill(overlay.querySelector(".keys-groups"));
  }

  function list() {
    return entries.map(function (e) {
      return { key: e.key, label: e.label, group: e.group };
    });
  }

  function typingIn(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    return ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"].indexOf(target.type) < 0;
  }

  function keyName(key) {
    return { " ": "Space", Escape: "Esc" }[key] || key;
  }

  // ---- the overlay: a modal dialog listing every registered key, by group ----
  function fill(container) {
    while (container.firstChild) container.removeChild(container.firstChild);
    var groups = [];
    var byGroup = {};
    entries.forEach(function (e) {
      if (!byGroup[e.group]) {
        byGroup[e.group] = [];
        groups.push(e.group);
      }
      byGroup[e.group].push(e);
    });
    groups.forEach(function (group) {
      var section = document.createElement("section");
      section.className = "keys-group";
      var h = document.createElement("h3");
      h.textContent = group;
      section.appendChild(h);
      var dl = document.createElement("dl");
      byGroup[group].forEach(function (e) {
        var row = document.createElement("div");
        row.className = "keys-row";
        row.setAttribute("data-key", e.key);
        var dt = document.createElement("dt");
        var kbd = document.createElement("kbd");
        kbd.textContent = keyName(e.key);
        dt.appendChild(kbd);
        var dd = document.createElement("dd");
        dd.textContent = e.label;
        row.appendChild(dt);
        row.appendChild(dd);
        dl.appendChild(row);
      });
      section.appendChild(dl);
      container.appendChild(section);
    });
  }

  function build() {
    var dialog = document.createElement("div");
    dialog.id = "keys-overlay";
    dialog.className = "keys-overlay";
    dialog.hidden = true;
    var box = document.createElement("div");
    box.className = "keys-dialog card";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-labelledby", "keys-title");
    box.tabIndex = -1;
    var head = document.createElement("div");
    head.className = "keys-head";
    var title = document.createElement("h2");
    title.id = "keys-title";
    title.textContent = "Keyboard shortcuts";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "keys-close";
    close.setAttribute("aria-label", "Close");
    close.textContent = "Close (Esc)";
    close.addEventListener("click", hide);
    head.appendChild(title);
    head.appendChild(close);
    var groups = document.createElement("div");
    groups.className = "keys-groups";
    box.appendChild(head);
    box.appendChild(groups);
    dialog.appendChild(box);
    // A click on the backdrop (outside the box) closes it.
    dialog.addEventListener("mousedown", function (event) {
      if (event.target === dialog) hide();
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function isOpen() {
    return !!overlay && !overlay.hidden;
  }

  function show() {
    if (!overlay) overlay = build();
    fill(overlay.querySelector(".keys-groups"));
    returnFocus = document.activeElement;
    overlay.hidden = false;
    document.body.classList.add("keys-open");
    overlay.querySelector(".keys-close").focus();
  }

  function hide() {
    if (!isOpen()) return;
    overlay.hidden = true;
    document.body.classList.remove("keys-open");
    var back = returnFocus;
    returnFocus = null;
    if (back && typeof back.focus === "function" && document.contains(back)) back.focus();
  }

  function focusables() {
    return Array.prototype.slice.call(
      overlay.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])")
    ).filter(function (el) { return !el.disabled; });
  }

  // While the overlay is open it has the keyboard: Esc or ? closes it, Tab stays inside it.
  function overlayKey(event) {
    if (event.key === "Escape" || event.key === "?") {
      event.preventDefault();
      hide();
    } else if (event.key === "Tab") {
      var items = focusables();
      if (!items.length) {
        event.preventDefault();
        return;
      }
      var first = items[0];
      var last = items[items.length - 1];
      var inside = overlay.contains(document.activeElement);
      if (event.shiftKey && (document.activeElement === first || !inside)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key !== "Enter" && event.key !== " ") {
      event.preventDefault(); // no page key acts behind the dialog
    }
  }

  // Focus that wanders out (a click elsewhere, a script) comes back into the open dialog.
  document.addEventListener("focusin", function (event) {
    if (isOpen() && !overlay.contains(event.target)) overlay.querySelector(".keys-close").focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (isOpen()) {
      overlayKey(event);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var typing = typingIn(event.target);
    var key = norm(event.key);
    for (var i = 0; i < entries.length; i++) {
      var e = entries[i];
      if (norm(e.key) !== key) continue;
      if (typing && key !== "Escape" && !e.inInputs) continue;
      if (e.when && !e.when(event)) continue;
      if (e.run(event) !== false) event.preventDefault();
      return;
    }
  });

  window.prefloopKeys = { register: register, list: list, open: show, close: hide, isOpen: isOpen };

  register({ key: "?", label: "show these keys", group: "Help", run: show });
})();
