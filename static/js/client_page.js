// client_page.js: the client page's follow-up form at hand. The "写跟进" button (kept at the
// bottom of a phone's screen) opens the form, brings it into view and puts the cursor in it; after a save,
// the form says so and the new entry is scrolled into view. Without JavaScript the button is a
// plain link to the form, which the link's #followup-form (CSS :target) opens.
(function () {
  "use strict";

  document.addEventListener("click", function (evt) {
    var jump = evt.target.closest && evt.target.closest("[data-followup-jump]");
    if (!jump) return;
    var form = document.getElementById("followup-form");
    if (!form) return;
    evt.preventDefault();
    var section = form.closest(".client-followup");
    if (section) section.classList.add("open"); // on a phone the form waits behind the button
    form.scrollIntoView({ block: "start" });
    var content = document.getElementById("followup-content");
    if (content) content.focus({ preventScroll: true });
  });

  // The fresh form after a save names the new entry once; bring that entry into view.
  document.addEventListener("htmx:after:settle", function () {
    var saved = document.querySelector("[data-new-entry]");
    if (!saved) return;
    var entry = document.getElementById(saved.getAttribute("data-new-entry"));
    saved.removeAttribute("data-new-entry");
    if (entry) entry.scrollIntoView({ block: "nearest" });
  });
})();
