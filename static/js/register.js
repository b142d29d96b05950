// register.js: the registration form at the desk (templates/reception/register.html).
(function () {
  "use strict";

  function form() {
    return document.querySelector("[data-testid=register-form]");
  }

  // The duplicate check also says what is wrong with a number. While the desk types it only
  // speaks up when more digits cannot mend the number; once the desk leaves the field (the change
  // event) it judges the number as it stands: villa.identity.phone_problem.
  document.addEventListener("htmx:config:request", function (evt) {
    var ctx = evt.detail.ctx;
    var source = ctx && ctx.sourceElement;
    if (!source || !source.closest || !source.closest("[data-testid=register-form]")) return;
    if (ctx.sourceEvent && ctx.sourceEvent.type === "change") ctx.request.body.set("finished", "1");
  });

  function unfold(element) {
    var details = element && element.closest("details");
    while (details) {
      details.open = true;
      details = details.parentElement && details.parentElement.closest("details");
    }
  }

  // After a failed submit: the first field to fix has the focus (the summary at the top lists
  // them all); a link in the summary opens 更多信息 if its field is in there.
  function focusFirstError() {
    var link = document.querySelector("[data-testid=error-summary] a[href^='#']");
    var target = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    unfold(target);
    target.focus();
  }

  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("[data-testid=error-summary] a[href^='#']");
    if (!link) return;
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    evt.preventDefault();
    unfold(target);
    target.focus();
  });

  // A referral or a broker's customer: who referred or brought them is asked under 更多信息.
  function openMoreForChannel(select) {
    var option = select.options[select.selectedIndex];
    if (option && option.hasAttribute("data-asks-more")) {
      var more = document.getElementById("more-info");
      if (more) more.open = true;
    }
  }

  // The reason for giving a walk-in out of turn is asked only when it goes to another rep.
  function showOutOfTurn(registration) {
    var box = registration.querySelector("[data-out-of-turn]");
    var rep = registration.querySelector("#rep");
    if (!box || !rep) return;
    var walkIn = registration.querySelector("input[name=visit_type][value=visit]");
    var outOfTurn = rep.value !== box.getAttribute("data-next-rep") && (!walkIn || walkIn.checked);
    box.hidden = !outOfTurn;
  }

  document.addEventListener("change", function (evt) {
    var registration = form();
    if (!registration || !registration.contains(evt.target)) return;
    if (evt.target.id === "channel") openMoreForChannel(evt.target);
    if (evt.target.id === "rep" || evt.target.name === "visit_type") showOutOfTurn(registration);
  });

  // Back from the conflict page: the page is not cached (no-store) and the form asks the browser
  // not to remember what was typed (a shared tablet must not offer one customer's details to the
  // next), so the browser alone brings back an empty form. The values sent are kept for this tab
  // from the submit until the form's next load, and put back only on a Back from the conflict
  // page (which marks them): Back from a new client page must not offer the same customer again.
  var DRAFT = "villa.register.draft";

  function keepDraft(registration) {
    var values = [];
    new FormData(registration).forEach(function (value, name) {
      if (name !== "csrf_token" && typeof value === "string") values.push([name, value]);
    });
    store({ values: values, conflict: false });
  }

  function store(draft) {
    try {
      sessionStorage.setItem(DRAFT, JSON.stringify(draft));
    } catch (err) {
      // storage refused (private mode, quota): Back gives an empty form, as without this script
    }
  }

  function readDraft() {
    try {
      return JSON.parse(sessionStorage.getItem(DRAFT) || "null");
    } catch (err) {
      return null;
    }
  }

  function takeDraft() {
    var draft = readDraft();
    try {
      sessionStorage.removeItem(DRAFT);
    } catch (err) {
      // nothing kept
    }
    return draft;
  }

  function cameBack() {
    var entries = performance.getEntriesByType ? performance.getEntriesByType("navigation") : [];
    return entries.length > 0 && entries[0].type === "back_forward";
  }

  function restore(registration, values) {
    var left = {};
    values.forEach(function (pair) {
      (left[pair[0]] = left[pair[0]] || []).push(pair[1]);
    });
    Array.prototype.forEach.call(registration.elements, function (el) {
      if (!el.name || el.name === "csrf_token" || el.type === "submit") return;
      var sent = left[el.name] || [];
      if (el.type === "checkbox" || el.type === "radio") el.checked = sent.indexOf(el.value) !== -1;
      else if (sent.length) el.value = sent.shift();
      else if (el.tagName !== "SELECT") el.value = "";
    });
    var more = document.getElementById("more-info");
    if (more && Array.prototype.some.call(more.querySelectorAll("input, select, textarea"), changed)) {
      more.open = true;
    }
    showOutOfTurn(registration);
  }

  function changed(el) {
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      return Array.prototype.some.call(el.options, function (o) {
        return o.selected !== o.defaultSelected;
      });
    }
    return el.value !== el.defaultValue;
  }

  document.addEventListener("submit", function (evt) {
    if (evt.target === form()) keepDraft(evt.target);
  });

  function start() {
    var draft;
    if (document.querySelector("[data-testid=dup-conflict]")) {
      draft = readDraft();
      if (draft) store({ values: draft.values, conflict: true });
      return;
    }
    var registration = form();
    if (!registration) return;
    draft = takeDraft();
    if (draft && draft.conflict && cameBack() && !document.querySelector("[data-testid=error-summary]")) {
      restore(registration, draft.values);
    }
    focusFirstError();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
