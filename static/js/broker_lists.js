// The registration form's broker field offers only the brokers of the agency chosen (or typed)
// in the agency field; with no agency, every broker on record (templates/reception/_broker_lists.html).
(function () {
  "use strict";

  function setUp() {
    var agency = document.getElementById("broker_agency");
    var list = document.getElementById("broker-list");
    if (!agency || !list) return;
    var all = Array.prototype.slice.call(list.querySelectorAll("option"));
    function filter() {
      var chosen = agency.value.trim();
      list.replaceChildren.apply(list, all.filter(function (option) {
        return !chosen || option.getAttribute("data-agency") === chosen;
      }));
    }
    agency.addEventListener("input", filter);
    agency.addEventListener("change", filter);
    filter();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
