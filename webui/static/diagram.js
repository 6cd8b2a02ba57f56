// Draws the case's BPMN diagram with bpmn-js and marks done, waiting, overdue and current steps.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box) { return; }
  function fail() {
    box.setAttribute("data-state", "failed");
    box.textContent = box.getAttribute("data-error");
  }
  if (typeof window.BpmnJS !== "function") { fail(); return; }
  var markers = JSON.parse(box.getAttribute("data-markers") || "{}");
  var current = box.getAttribute("data-current");
  var viewer = new window.BpmnJS({ container: box });
  fetch(box.getAttribute("data-xml-url"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      Object.keys(markers).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, "alur-" + markers[id]); }
      });
      if (current && registry.get(current)) { canvas.addMarker(current, "alur-current"); }
      canvas.zoom("fit-viewport");
      box.setAttribute("data-state", "drawn");
    })
    .catch(fail);
})();
