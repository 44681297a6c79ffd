/* Keyboard-first labelling for templates/annotate/annotator/queue.html.
 *
 * The page works without this file (plain form posts); this adds the keys,
 * show_if, the timer and focus handling. No inline script and no eval: the
 * CSP forbids both, so everything is wired here from data-* attributes.
 *
 * Keys (outside text boxes): an option's hotkey chooses it in the current
 * field (a checkbox toggles); ArrowDown/ArrowUp move between visible fields;
 * Enter submits; s opens the skip reason; u reopens my previous annotation;
 * r reveals a transcript blurred behind a content warning; ? toggles the
 * cheat sheet. In the notes box Ctrl+Enter submits and Escape leaves the box.
 */
(function () {
  "use strict";

  // An Enter this soon after a new item appears, before any choice on it, is
  // the second press of a double Enter meant for the item before.
  const ENTER_GUARD_MS = 400;

  let shownAt = performance.now();
  let touched = false; // any choice made on the item shown
  let current = null; // the current fieldset.field
  const initialised = new WeakSet();

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  const labelForm = () => document.getElementById("label-form");
  const allFields = () => {
    const form = labelForm();
    return form ? $$("fieldset.field", form) : [];
  };
  const visibleFields = () => allFields().filter((f) => !f.hidden);
  const submitButton = () => $('#label-form button[type="submit"]');
  // Past the last field: the decision's reason on the review screen, else submit.
  const afterFields = () => document.getElementById("decision-reason") || submitButton();

  function isTextEntry(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    if (el.tagName !== "INPUT") return false;
    return !["radio", "checkbox", "button", "submit", "reset", "hidden"].includes(el.type);
  }

  // show_if ------------------------------------------------------------------

  function conditionsOf(fieldset) {
    if (!("showIf" in fieldset.dataset)) return null;
    if (!fieldset._conditions) {
      try {
        fieldset._conditions = JSON.parse(fieldset.dataset.showIf);
      } catch (err) {
        fieldset._conditions = []; // a bad attribute shows the field, as without JS
      }
    }
    return fieldset._conditions;
  }

  function valueOf(fieldset) {
    const kind = fieldset.dataset.kind;
    if (kind === "multi") return $$("input:checked", fieldset).map((i) => i.value);
    if (kind === "text") return undefined; // conditions only look at choice fields
    const checked = $("input:checked", fieldset);
    return checked ? checked.value : undefined;
  }

  // Mirrors labelsets.schema.Condition.holds: a field without a value
  // satisfies neither "in" nor "not_in".
  function holds(condition, values) {
    const value = values[condition.field];
    let hit;
    if (typeof value === "string") hit = condition.values.includes(value);
    else if (Array.isArray(value)) hit = value.some((v) => condition.values.includes(v));
    else return false;
    return condition.op === "in" ? hit : !hit;
  }

  // Fields come in schema order and show_if points only backwards, so one
  // pass decides every field from the values of visible earlier ones, as the
  // server does. Hidden fields are disabled too, so they are not submitted.
  function applyShowIf() {
    const values = {};
    for (const fieldset of allFields()) {
      const conditions = conditionsOf(fieldset);
      const visible = !conditions || conditions.every((c) => holds(c, values));
      if (fieldset.hidden === visible) {
        fieldset.hidden = !visible;
        fieldset.disabled = !visible;
      }
      if (visible) values[fieldset.dataset.field] = valueOf(fieldset);
    }
    if (current && current.hidden) setCurrent(nextVisible(current, -1) || visibleFields()[0], false);
  }

  // Current field and focus ----------------------------------------------------

  function setCurrent(fieldset, focus) {
    if (current && current !== fieldset) current.classList.remove("is-current");
    current = fieldset || null;
    if (!current) return;
    current.classList.add("is-current");
    if (focus) focusField(current);
  }

  function focusField(fieldset) {
    const target =
      $("input:checked", fieldset) || $("input:not([type=hidden]), textarea", fieldset);
    if (target) {
      target.focus({ preventScroll: true });
      fieldset.scrollIntoView({ block: "nearest" });
    }
  }

  // The visible field after (step 1) or before (step -1) `from` in schema
  // order, whether or not `from` itself is visible.
  function nextVisible(from, step) {
    const fields = allFields();
    for (let i = fields.indexOf(from) + step; i >= 0 && i < fields.length; i += step) {
      if (!fields[i].hidden) return fields[i];
    }
    return null;
  }

  function move(step) {
    const onSubmit = document.activeElement === submitButton();
    const visible = visibleFields();
    if (onSubmit) {
      if (step < 0 && visible.length) setCurrent(visible[visible.length - 1], true);
      return;
    }
    const from = current && !current.hidden ? current : null;
    const target = from ? nextVisible(from, step) : visible[0];
    if (target) setCurrent(target, true);
    else if (step > 0) afterFields()?.focus();
  }

  // After a choice the next choice field becomes current; text fields are
  // passed over so that Enter keeps meaning "submit", not "new line".
  function advance(from) {
    let next = nextVisible(from, 1);
    while (next && next.dataset.kind === "text") next = nextVisible(next, 1);
    if (next) setCurrent(next, true);
    else afterFields()?.focus();
  }

  function chooseByHotkey(key) {
    const fieldset = current && !current.hidden ? current : visibleFields()[0];
    if (!fieldset || fieldset.dataset.kind === "text") return false;
    const k = key.toLowerCase();
    const input = $$("input[data-hotkey]", fieldset).find(
      (i) => i.dataset.hotkey.toLowerCase() === k
    );
    if (!input) return false;
    setCurrent(fieldset, false);
    if (input.type === "checkbox") input.checked = !input.checked;
    else input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    if (input.type === "radio") advance(fieldset);
    else input.focus({ preventScroll: true });
    return true;
  }

  // Submit, skip, reopen, help -------------------------------------------------

  function submitLabels() {
    const form = labelForm();
    if (!form || form.getAttribute("aria-busy") === "true") return;
    if (!touched && performance.now() - shownAt < ENTER_GUARD_MS) return;
    form.requestSubmit();
  }

  function openSkip() {
    const details = document.getElementById("skip-details");
    if (!details) return;
    details.open = true;
    document.getElementById("skip-reason")?.focus();
  }

  function closeSkip() {
    const details = document.getElementById("skip-details");
    if (details) details.open = false;
    if (current) focusField(current);
    else move(1);
  }

  // Annotator care: a flagged transcript is blurred, aria-hidden and inert
  // until the annotator asks for it. False when nothing is veiled.
  function reveal() {
    const veil = document.getElementById("transcript-veil");
    if (!veil || !veil.classList.contains("is-veiled")) return false;
    veil.classList.remove("is-veiled");
    veil.removeAttribute("aria-hidden");
    veil.inert = false;
    const form = document.getElementById("reveal-form");
    if (form) form.hidden = true;
    const status = document.getElementById("reveal-status");
    if (status) status.textContent = "The transcript is shown.";
    if (current) focusField(current);
    else move(1);
    return true;
  }

  function toggleHelp() {
    const dialog = document.getElementById("cheatsheet");
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  function onKeydown(e) {
    if (e.defaultPrevented || e.isComposing) return;
    const dialog = document.getElementById("cheatsheet");
    if (dialog && dialog.open) {
      if (e.key === "?") {
        e.preventDefault();
        dialog.close();
      }
      return; // Escape closes the modal dialog natively
    }
    const target = e.target;
    if (isTextEntry(target)) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && target.closest("#label-form")) {
        e.preventDefault();
        submitLabels();
      } else if (e.key === "Escape" && target.closest("#skip-form")) {
        e.preventDefault();
        closeSkip();
      } else if (e.key === "Escape" && target.closest("#label-form")) {
        // Leave the notes box: hotkeys and Enter work again.
        e.preventDefault();
        const fieldset = target.closest("fieldset.field");
        fieldset.tabIndex = -1;
        fieldset.focus();
      }
      return;
    }
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    // Links, buttons and disclosure summaries keep their own Enter and Space.
    const native = target.closest && target.closest("a, button, summary");
    // In the skip box (its "why" radios) keys are the box's own: arrows
    // choose, Enter skips (natively), Escape cancels; no label hotkeys.
    if (target.closest && target.closest("#skip-form") && e.key !== "Escape") return;

    switch (e.key) {
      case "?":
        e.preventDefault();
        toggleHelp();
        return;
      case "s":
      case "S":
        if (document.getElementById("skip-details")) {
          e.preventDefault();
          openSkip();
        }
        return;
      case "g":
      case "G": {
        // An option of the current field may have g as its hotkey: it wins.
        if (labelForm() && chooseByHotkey(e.key)) {
          e.preventDefault();
          return;
        }
        const guidelines = document.getElementById("guidelines");
        if (guidelines) {
          e.preventDefault();
          guidelines.open = !guidelines.open;
          if (guidelines.open) guidelines.querySelector("summary").focus();
        }
        return;
      }
      case "r":
      case "R":
        // While the transcript is veiled r reveals it, whatever option has
        // r (none by default: labelsets.schema leaves it out); then it is the
        // option's.
        if (reveal() || (labelForm() && chooseByHotkey(e.key))) e.preventDefault();
        return;
      case "u":
      case "U": {
        const link = document.getElementById("reopen-link");
        if (link) {
          e.preventDefault();
          link.click();
        }
        return;
      }
      case "Escape":
        if (target.closest("#skip-details")) {
          e.preventDefault();
          closeSkip();
        }
        return;
      case "ArrowDown":
      case "ArrowUp":
        if (!labelForm()) return;
        if (native && !native.closest("#label-form")) return;
        e.preventDefault(); // radios would otherwise change their choice
        move(e.key === "ArrowDown" ? 1 : -1);
        return;
      case "Enter":
        if (native || !labelForm()) return;
        if (target.closest && target.closest("#skip-details, #guidelines, .transcript")) return;
        e.preventDefault();
        submitLabels();
        return;
      default:
        if (e.key.length === 1 && e.key !== " " && labelForm() && chooseByHotkey(e.key)) {
          e.preventDefault();
        }
    }
  }

  // Wiring -----------------------------------------------------------------------

  function showError(text) {
    const form = labelForm();
    if (!form) return;
    let box = document.getElementById("request-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "request-error";
      box.className = "error";
      box.setAttribute("role", "alert");
      form.prepend(box);
    }
    box.textContent = text; // never innerHTML: nothing from the server is parsed here
  }

  function init(panel, swapped) {
    if (initialised.has(panel)) return;
    initialised.add(panel);
    shownAt = performance.now();
    touched = false;
    current = null;
    const help = document.getElementById("help-button");
    if (help) help.hidden = false;

    const form = labelForm();
    if (!form) {
      const empty = document.getElementById("care-continue") || document.getElementById("queue-empty");
      if (empty) empty.focus();
      else if (document.activeElement === document.body || !document.activeElement) {
        panel.tabIndex = -1;
        panel.focus();
      }
      return;
    }
    form.classList.add("js-ready");
    form.addEventListener("change", () => {
      touched = true;
      applyShowIf();
    });
    form.addEventListener("input", () => (touched = true));
    applyShowIf();
    if (swapped) panel.scrollIntoView({ block: "start" });
    const firstError = visibleFields().find((f) => f.classList.contains("has-error"));
    // A veiled transcript: the field is current, but focus waits on the
    // reveal button, which a screen reader announces with the warning.
    const revealButton = document.getElementById("reveal-button");
    setCurrent(firstError || visibleFields()[0], !revealButton);
    if (revealButton) revealButton.focus();
  }

  document.addEventListener("keydown", onKeydown);

  document.addEventListener("focusin", (e) => {
    const fieldset = e.target.closest && e.target.closest("#label-form fieldset.field");
    if (fieldset) setCurrent(fieldset, false);
  });

  // Capture phase: runs before htmx's own submit listener reads the form.
  document.addEventListener(
    "submit",
    (e) => {
      if (e.target.id !== "label-form") return;
      const seconds = e.target.querySelector('input[name="seconds"]');
      if (seconds) seconds.value = ((performance.now() - shownAt) / 1000).toFixed(3);
    },
    true
  );

  // The reveal button reveals here; its GET (?reveal=) is for pages without JavaScript.
  document.addEventListener("submit", (e) => {
    if (e.target.id !== "reveal-form") return;
    e.preventDefault();
    reveal();
  });

  document.addEventListener("htmx:beforeRequest", (e) => {
    const elt = e.detail.elt;
    if (elt && (elt.id === "label-form" || elt.id === "skip-form")) elt.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", (e) => {
    const elt = e.detail.elt;
    if (elt && elt.isConnected) elt.removeAttribute("aria-busy");
  });
  // htmx swaps no error response, so the form and its choices stay; a retry
  // sends the same client_uuid, and the server stores one label whatever
  // became of the first request.
  document.addEventListener("htmx:responseError", (e) => {
    if (e.detail.xhr.status === 503) {
      // The database is restarting (the server's 503 says Retry-After).
      const what = e.detail.elt && e.detail.elt.id === "skip-form" ? "skip" : "save";
      showError(`Could not ${what}: the server is unavailable; your choices are kept — press Enter to try again.`);
      return;
    }
    showError(
      `The server answered ${e.detail.xhr.status}; nothing was saved. Your labels are still here: try again, or reload the page.`
    );
  });
  document.addEventListener("htmx:sendError", () => {
    // The request may have arrived even though no answer did: say so.
    showError(
      "No answer from the server; your choices are kept — press Enter to try again (a label that was saved is not saved twice)."
    );
  });

  // htmx puts the new panel in and restores focus at once, but wires its
  // hx-* attributes and fires htmx:load only after the settle delay. A key
  // pressed in between would be undone by a late init (or submit the form
  // natively), so the panel is processed and initialised right at the swap.
  document.addEventListener("htmx:afterSwap", () => {
    const panel = document.getElementById("item-panel");
    if (!panel || initialised.has(panel)) return;
    window.htmx?.process(panel);
    init(panel, true);
  });

  document.addEventListener("DOMContentLoaded", () => {
    const dialog = document.getElementById("cheatsheet");
    // "close" comes a task after Escape: a key pressed since (s opens the skip
    // box) may have moved focus on purpose, and keeps it.
    if (dialog)
      dialog.addEventListener("close", () => {
        const active = document.activeElement;
        if (current && (!active || active === document.body || dialog.contains(active))) focusField(current);
      });
    document.getElementById("help-button")?.addEventListener("click", toggleHelp);
    const panel = document.getElementById("item-panel");
    if (panel) init(panel, false);
  });
})();
