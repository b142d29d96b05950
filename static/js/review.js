// review.js: keyboard shortcuts on the review queue, loaded on that page only.
// j / k move the highlighted row, a approves it, r opens its rejection and focuses the reason.
// Keys typed into a field are left alone. The batch form's "select all" box lives here as well.
(function () {
  "use strict";

  var CURRENT = "review-current";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr[data-testid=review-row]"));
  }

  function current() {
    return document.querySelector("tr." + CURRENT);
  }

  function mark(row) {
    var previous = current();
    if (previous && previous !== row) previous.classList.remove(CURRENT);
    if (row) row.classList.add(CURRENT);
  }

  function highlight(row) {
    mark(row);
    if (!row) return;
    row.setAttribute("tabindex", "-1");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(current());
    var next = index === -1 ? (step > 0 ? 0 : all.length - 1) : index + step;
    highlight(all[Math.max(0, Math.min(all.length - 1, next))]);
  }

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, select, textarea, [contenteditable]");
  }

  document.addEventListener("keydown", function (evt) {
    if (evt.ctrlKey || evt.metaKey || evt.altKey || typing(evt.target)) return;
    var row = current();
    if (evt.key === "j") {
      move(1);
    } else if (evt.key === "k") {
      move(-1);
    } else if (evt.key === "a" && row) {
      var approve = row.querySelector("[data-review-approve]");
      if (approve) approve.click();
    } else if (evt.key === "r" && row) {
      var details = row.querySelector("details");
      if (details) details.open = true;
      var reason = row.querySelector("[data-review-reason]");
      if (reason) reason.focus();
    } else {
      return;
    }
    evt.preventDefault();
  });

  // A tap or click on a row makes it the current one, so the keys follow the finger.
  document.addEventListener("click", function (evt) {
    var row = evt.target.closest && evt.target.closest("tr[data-testid=review-row]");
    if (row) mark(row);
  });

  // The decided row is gone: the next one (or the new last one) becomes current.
  var positionBeforeSwap = -1;
  document.addEventListener("htmx:before:swap", function () {
    positionBeforeSwap = rows().indexOf(current());
  });
  document.addEventListener("htmx:after:swap", function () {
    var position = positionBeforeSwap;
    positionBeforeSwap = -1;
    if (position === -1 || current()) return;
    var all = rows();
    var row = all[Math.min(position, all.length - 1)];
    if (!row) return;
    // A refused rejection came back with its message: back to the reason, not just the row.
    var reason = row.classList.contains("review-refused") && row.querySelector("[data-review-reason]");
    if (reason) {
      mark(row);
      reason.focus();
    } else {
      highlight(row);
    }
  });

  document.addEventListener("change", function (evt) {
    if (!evt.target.matches || !evt.target.matches("[data-review-select-all]")) return;
    var boxes = document.querySelectorAll("input[name=ids][form=review-batch]");
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = evt.target.checked;
  });
})();
