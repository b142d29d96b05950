// register.js: the registration form at the desk (templates/reception/register.html).
(function () {
  "use strict";

  function form() {
    return document.querySelector("[data-testid=register-form]");
  }

  // The duplicate check also says what is wrong with a number. While the desk types it only
  // speaks up when more digits cannot mend the number; once she leaves the field (the change
  // event) it judges the number as it stands: villa.identity.phone_problem.
  document.addEventListener("htmx:config:request", function (evt) {
    var ctx = evt.detail.ctx;
    var source = ctx && ctx.sourceElement;
    if (!source || !source.closest || !source.closest("[data-testid=register-form]")) return;
    if (ctx.sourceEvent && ctx.sourceEvent.type === "change") ctx.request.body.set("finished", "1");
  });

  function open(element) {
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
    open(target);
    target.focus();
  }

  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("[data-testid=error-summary] a[href^='#']");
    if (!link) return;
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    evt.preventDefault();
    open(target);
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

  function start() {
    if (!form()) return;
    focusFirstError();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
