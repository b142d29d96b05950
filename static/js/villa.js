// villa.js: the app's only script. The CSP allows no inline script and no eval, so everything
// htmx needs from us is here. Include it BEFORE htmx.min.js (both `defer`): a deferred htmx
// initialises on a timer that can run before a later deferred script, and requests fired on
// `load` would then go out without our CSRF header.
(function () {
  "use strict";

  // htmx 4 swaps every 4xx and 5xx response. Our 422/409 fragments are meant to land in place,
  // but a 5xx error page must not replace a form or a row. noSwap entries are compared as strings
  // with the exact status, then "50x", then "5xx", so "5xx" covers all server errors while an
  // element's own, more specific hx-status:503 still wins.
  function configureHtmx() {
    var noSwap = window.htmx.config.noSwap || [204, 304];
    if (noSwap.indexOf("5xx") === -1) window.htmx.config.noSwap = noSwap.concat(["5xx"]);
  }

  if (window.htmx) configureHtmx();

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  // Flask-WTF accepts the token as a header, so htmx requests need no hidden field.
  // Every request passes here before its response is handled, whatever the script order.
  document.addEventListener("htmx:config:request", function (evt) {
    configureHtmx();
    var token = csrfToken();
    if (token) evt.detail.ctx.request.headers["X-CSRFToken"] = token;
  });

  var hideTimer = null;

  function hideError() {
    var banner = document.getElementById("flash-error");
    if (banner) banner.classList.remove("show");
  }

  // Non-blocking: the page stays usable; the banner goes away on a tap or after a while.
  function showError() {
    var banner = document.getElementById("flash-error");
    if (!banner) return;
    banner.textContent = banner.getAttribute("data-message") || "Error";
    banner.hidden = false;
    banner.classList.add("show");
    clearTimeout(hideTimer);
    hideTimer = setTimeout(hideError, 10000);
  }

  document.addEventListener("htmx:response:error", function (evt) {
    var response = evt.detail.ctx && evt.detail.ctx.response;
    if (response && response.status >= 500) showError();
  });

  // Network failures and timeouts never reach a status code; they are server trouble as well.
  document.addEventListener("htmx:error", function (evt) {
    var ctx = evt.detail.ctx;
    if (!ctx || !ctx.response) showError();
  });

  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("#flash-error")) hideError();
  });

  // An open drop-down menu (the account menu) closes on Escape; Pico closes it on a tap elsewhere.
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      menu.removeAttribute("open");
    });
  });

  // A table box that scrolls (.table-wrap: sideways, or down when its height is capped) must be reachable by keyboard to be scrolled:
  // it becomes a focusable, named region -- only while it does scroll, so a table that fits is no
  // extra tab stop. Its name is the table's caption, else the heading before it. A box the template
  // already made focusable keeps its own attributes.
  function tableBoxName(box) {
    var caption = box.querySelector("caption");
    if (caption) return caption.textContent.trim();
    var node = box.previousElementSibling;
    while (node && !/^H[1-6]$/.test(node.tagName)) node = node.previousElementSibling;
    var heading = node || (box.closest("section, article") || document).querySelector("h1, h2, h3");
    return heading ? heading.textContent.trim() : document.title;
  }

  function markScrollingTables() {
    document.querySelectorAll(".table-wrap").forEach(function (box) {
      if (box.hasAttribute("tabindex") && !box.hasAttribute("data-scroll-marked")) return;
      if (box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", tableBoxName(box));
        box.setAttribute("data-scroll-marked", "");
      } else if (box.hasAttribute("data-scroll-marked")) {
        ["tabindex", "role", "aria-label", "data-scroll-marked"].forEach(function (name) {
          box.removeAttribute(name);
        });
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markScrollingTables);
  else markScrollingTables();
  window.addEventListener("resize", markScrollingTables);
  document.addEventListener("htmx:after:settle", markScrollingTables);

  // The top links on a phone: folded behind 菜单 (CSS hides them below 768 px once the nav is
  // "collapsible"); a tap on 菜单 opens or closes them, Escape closes them.
  function setUpNavMenu() {
    var nav = document.querySelector("nav.topnav");
    var toggle = nav && nav.querySelector(".nav-toggle");
    if (!toggle) return;
    toggle.parentElement.hidden = false;
    nav.classList.add("collapsible");
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (evt) {
      if (evt.key !== "Escape" || !nav.classList.contains("nav-open")) return;
      nav.classList.remove("nav-open");
      toggle.setAttribute("aria-expanded", "false");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpNavMenu);
  else setUpNavMenu();
})();
