// desk.js: the front desk page. The rotation polls every 5 s and morphs the fresh queue in; a
// 更多操作 menu the receptionist opened must not snap shut under her finger, so the morph leaves
// the `open` attribute of a <details> alone. A press swaps the whole queue (outerHTML), which
// closes the menus, as it should once the action is done.
(function () {
  "use strict";
  htmx.registerExtension("villa-keep-open", {
    htmx_before_morph_attr: function (elt, detail) {
      if (elt.tagName === "DETAILS" && detail.attrName === "open") return false;
    },
  });
})();
