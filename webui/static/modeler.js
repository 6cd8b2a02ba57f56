// The modeler page: bpmn-js Modeler on a draft, with Save / Validate / Deploy and an SOP-aware side panel.
(function () {
  "use strict";

  // Deleting a draft asks first (the list page).
  Array.prototype.forEach.call(document.querySelectorAll("form.delete-draft[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  var root = document.getElementById("modeler");
  if (!root) { return; }
  var statusBox = document.getElementById("modeler-status");
  var panel = document.getElementById("modeler-panel");
  var nameInput = document.getElementById("panel-name");
  var durationInput = document.getElementById("panel-duration");
  var durationNote = document.getElementById("panel-duration-note");
  var durationError = document.getElementById("panel-duration-error");
  var reportBox = document.getElementById("modeler-report");
  var dialog = document.getElementById("deploy-dialog");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = tokenMeta ? tokenMeta.getAttribute("content") : "";
  var ISO_DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;
  var HUMAN_TASKS = ["bpmn:UserTask", "bpmn:ManualTask", "bpmn:Task"];

  function t(name, values) {
    var text = root.getAttribute("data-t-" + name) || name;
    Object.keys(values || {}).forEach(function (key) { text = text.split("{" + key + "}").join(values[key]); });
    return text;
  }

  function setStatus(text, kind) {
    statusBox.textContent = text;
    statusBox.setAttribute("data-kind", kind || "");
  }

  function setState(state) { root.setAttribute("data-state", state); }

  if (typeof window.BpmnJS !== "function") {
    setState("failed");
    setStatus(t("no-modeler"), "error");
    return;
  }

  var modeler = new window.BpmnJS({ container: document.getElementById("modeler-canvas") });
  var modeling = modeler.get("modeling");
  var registry = modeler.get("elementRegistry");
  var bpmnFactory = modeler.get("bpmnFactory");
  var elementFactory = modeler.get("elementFactory");
  var canvas = modeler.get("canvas");
  var selection = modeler.get("selection");
  var commandStack = modeler.get("commandStack");
  var rowVersion = null;
  var edits = 0;       // changes made in the editor since it opened
  var savedEdits = 0;  // how many of them the server has
  var current = null;  // the element the side panel shows

  // --- talking to the server ------------------------------------------------------------------------------------

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") < 0 || response.redirected) {
        var message = response.status === 413 ? t("too-large") : t("session");
        return { ok: false, status: response.status, data: { message: message } };
      }
      return response.json().then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    }, function () {
      return { ok: false, status: 0, data: { message: t("network") } };
    });
  }

  function failure(result) {
    var data = result.data || {};
    var text = data.message || t("network");
    if (data.detail && data.detail !== text) { text += " " + data.detail; }
    return text;
  }

  function currentXml() {
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  function markDirty() {
    if (root.getAttribute("data-state") === "ready" || root.getAttribute("data-state") === "saved") {
      setState("dirty");
    }
    setStatus(t("dirty"), "dirty");
  }

  function save() {
    var upTo = edits;
    setStatus(t("saving"), "busy");
    return currentXml().then(function (xml) {
      return post(root.getAttribute("data-save-url"), { xml: xml, row_version: rowVersion });
    }).then(function (result) {
      if (!result.ok) {
        setState(result.status === 409 ? "stale" : "dirty");
        setStatus(failure(result), "error");
        return false;
      }
      rowVersion = result.data.row_version;
      root.setAttribute("data-row-version", String(rowVersion));
      savedEdits = upTo;
      if (result.data.key) { document.getElementById("modeler-key").textContent = result.data.key; }
      if (savedEdits === edits) {
        setState("saved");
        setStatus(t("saved"), "ok");
      } else {
        markDirty();
      }
      return true;
    });
  }

  function validate() {
    setStatus(t("checking"), "busy");
    return currentXml().then(function (xml) {
      return post(root.getAttribute("data-check-url"), { xml: xml });
    }).then(function (result) {
      if (!result.ok) { setStatus(failure(result), "error"); return null; }
      showReport(result.data);
      setStatus(edits === savedEdits ? t("ready") : t("dirty"), edits === savedEdits ? "ok" : "dirty");
      return result.data;
    });
  }

  function download() {
    currentXml().then(function (xml) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
      link.download = root.getAttribute("data-filename");
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
  }

  // --- the lint report ------------------------------------------------------------------------------------------

  function showReport(report) {
    reportBox.hidden = false;
    reportBox.setAttribute("data-errors", String(report.errors));
    reportBox.setAttribute("data-warnings", String(report.warnings));
    document.getElementById("report-summary").textContent = report.ok && !report.warnings ? t("no-problems") :
      t("summary", { errors: report.errors, warnings: report.warnings }) + (report.ok ? " " + t("deployable") : "");
    var list = document.getElementById("report-problems");
    list.textContent = "";
    (report.problems || []).forEach(function (problem) {
      var item = document.createElement("li");
      item.className = "problem " + problem.severity;
      var badge = document.createElement("span");
      badge.className = "severity";
      badge.textContent = t(problem.severity);
      item.appendChild(badge);
      var where = [];
      if (problem.line) { where.push(t("line", { line: problem.line })); }
      if (problem.element) {
        item.setAttribute("data-element", problem.element);
        var link = document.createElement("button");
        link.type = "button";
        link.className = "link element";
        link.textContent = problem.element;
        link.addEventListener("click", function () { reveal(problem.element); });
        item.appendChild(link);
        if (!lookup(problem.element)) { where.push(t("missing-element")); }
      }
      var text = document.createElement("span");
      text.className = "message";
      text.textContent = (where.length ? " (" + where.join(", ") + ") " : " ") + problem.message;
      item.appendChild(text);
      list.appendChild(item);
    });
  }

  // Problems about a process name its id; in a collaboration the pool (participant) stands for it.
  function lookup(id) {
    return registry.get(id) || registry.filter(function (e) {
      var processRef = e.type === "bpmn:Participant" && e.businessObject.processRef;
      return Boolean(processRef) && processRef.id === id;
    })[0] || null;
  }

  function reveal(id) {
    var element = lookup(id);
    if (!element) { return; }
    selection.select(element);
    canvas.scrollToElement(element);
  }

  // --- deploying ------------------------------------------------------------------------------------------------

  function openDeploy() {
    document.getElementById("deploy-error").hidden = true;
    dialog.showModal();
    document.getElementById("deploy-note").focus();
  }

  function deployError(text) {
    var box = document.getElementById("deploy-error");
    box.textContent = text;
    box.hidden = false;
  }

  function deploy() {
    var note = document.getElementById("deploy-note").value.trim();
    if (!note) { deployError(t("note-required")); return; }
    var saved = edits === savedEdits ? Promise.resolve(true) : save();
    saved.then(function (ok) {
      if (!ok) { deployError(statusBox.textContent); return null; }
      setStatus(t("deploying"), "busy");
      return post(root.getAttribute("data-deploy-url"), { note: note, row_version: rowVersion });
    }).then(function (result) {
      if (!result) { return; }
      if (!result.ok) {
        if (result.data && result.data.problems) {
          showReport({ ok: false, errors: result.data.problems.filter(isError).length,
                       warnings: result.data.problems.length - result.data.problems.filter(isError).length,
                       problems: result.data.problems });
        }
        deployError(failure(result));
        setStatus(failure(result), "error");
        return;
      }
      dialog.close();
      root.setAttribute("data-deployed-version", String(result.data.version));
      var deployed = document.getElementById("modeler-deployed");
      deployed.querySelector("strong").textContent = String(result.data.version);
      deployed.hidden = false;
      showReport(result.data.report);
      setStatus(result.data.message, "ok");
    });
  }

  function isError(problem) { return problem.severity === "error"; }

  // --- the side panel -------------------------------------------------------------------------------------------

  function isA(element, types) {
    var bo = element && element.businessObject;
    return Boolean(bo) && types.some(function (type) { return bo.$instanceOf(type); });
  }

  function laneOf(element) {
    var lanes = registry.filter(function (e) { return e.type === "bpmn:Lane"; });
    var found = lanes.filter(function (lane) {
      return (lane.businessObject.flowNodeRef || []).indexOf(element.businessObject) >= 0;
    });
    return found.length ? found[found.length - 1].businessObject.name || found[found.length - 1].id : "";
  }

  function slaTimer(task) {
    var timers = (task.attachers || []).filter(function (attached) {
      var definitions = attached.businessObject.eventDefinitions || [];
      return definitions.length && definitions[0].$instanceOf("bpmn:TimerEventDefinition");
    });
    timers.sort(function (a, b) {
      return (a.businessObject.cancelActivity === false ? 0 : 1) - (b.businessObject.cancelActivity === false ? 0 : 1);
    });
    return timers[0] || null;
  }

  function durationOf(task) {
    var timer = slaTimer(task);
    var expression = timer && timer.businessObject.eventDefinitions[0].timeDuration;
    return expression ? (expression.body || "").trim() : null;
  }

  function showPanel(element) {
    if (element && element.type === "label") { element = element.labelTarget; }
    current = element && element.businessObject && element.type !== "bpmn:Process" ? element : null;
    durationError.hidden = true;
    if (!current) { panel.setAttribute("data-kind", "none"); return; }
    var task = isA(current, HUMAN_TASKS);
    panel.setAttribute("data-kind", task ? "task" : "element");
    panel.setAttribute("data-element", current.id);
    document.getElementById("panel-type").textContent = current.type.replace("bpmn:", "");
    document.getElementById("panel-id").textContent = current.id;
    if (document.activeElement !== nameInput) { nameInput.value = current.businessObject.name || ""; }
    document.getElementById("panel-lane").textContent = laneOf(current) || "–";
    if (task) {
      var duration = durationOf(current);
      if (document.activeElement !== durationInput) { durationInput.value = duration || ""; }
      durationNote.textContent = duration ? waktu(duration) : t("no-timer");
    }
  }

  function applyName() {
    if (!current) { return; }
    var name = nameInput.value.replace(/\s+/g, " ").trim();
    if (name !== (current.businessObject.name || "")) { modeling.updateLabel(current, name); }
  }

  function applyDuration() {
    if (!current || !isA(current, HUMAN_TASKS)) { return; }
    var value = durationInput.value.trim().toUpperCase();
    if (!ISO_DURATION.test(value)) {
      durationError.textContent = t("bad-duration");
      durationError.hidden = false;
      return;
    }
    durationError.hidden = true;
    if (value !== durationOf(current)) {
      commandStack.execute("alur.standardTime.set", { task: current, duration: value });
    }
    durationInput.value = value;
    durationNote.textContent = waktu(value);
  }

  // SOP texts are Indonesian whatever the interface language: "Waktu baku 2 jam", waktu = "2 jam".
  function waktu(iso) {
    var match = ISO_DURATION.exec(iso);
    if (!match) { return iso; }
    var parts = [];
    var units = [[match[1], "tahun"], [match[2], "bulan"], [match[3], "minggu"], [match[4], "hari"],
                 [match[6], "jam"], [match[7], "menit"], [match[8], "detik"]];
    units.forEach(function (unit) { if (unit[0]) { parts.push(parseFloat(unit[0]) + " " + unit[1]); } });
    return parts.join(" ");
  }

  // One undoable command: set (or create) the step's non-interrupting boundary timer and keep the SOP texts in step.
  function StandardTimeHandler() {}
  StandardTimeHandler.prototype.preExecute = function (context) {
    var task = context.task;
    var timer = slaTimer(task) || createTimer(task);
    var definition = timer.businessObject.eventDefinitions[0];
    if (definition.timeDuration) {
      modeling.updateModdleProperties(timer, definition.timeDuration, { body: context.duration });
    } else {
      var expression = bpmnFactory.create("bpmn:FormalExpression", { body: context.duration });
      modeling.updateModdleProperties(timer, definition, { timeDuration: expression, timeDate: undefined,
                                                           timeCycle: undefined });
    }
    var name = timer.businessObject.name || "";
    if (!name || /^Waktu baku/.test(name)) { modeling.updateLabel(timer, "Waktu baku " + waktu(context.duration)); }
    var property = sopProperty(task, "waktu");
    if (property) { modeling.updateModdleProperties(task, property, { value: waktu(context.duration) }); }
  };
  StandardTimeHandler.prototype.execute = function () { return []; };
  StandardTimeHandler.prototype.revert = function () { return []; };
  commandStack.registerHandler("alur.standardTime.set", StandardTimeHandler);

  function freeId(wanted) { return registry.get(wanted) ? undefined : wanted; }

  function createTimer(task) {
    var shape = elementFactory.createShape({ type: "bpmn:BoundaryEvent",
                                             eventDefinitionType: "bpmn:TimerEventDefinition" });
    shape.businessObject.cancelActivity = false;
    var timer = modeling.createShape(shape, { x: task.x + task.width / 2, y: task.y + task.height }, task,
                                     { attach: true });
    var id = freeId("SLA_" + task.id);
    if (id) { modeling.updateProperties(timer, { id: id }); }
    var escalation = sopEscalation();
    var end = elementFactory.createShape({ type: "bpmn:EndEvent",
      eventDefinitionType: escalation ? "bpmn:EscalationEventDefinition" : undefined });
    end = modeling.appendShape(timer, end, { x: timer.x + timer.width / 2 + 100, y: timer.y + timer.height / 2 + 30 });
    if (escalation) { modeling.updateModdleProperties(end, end.businessObject.eventDefinitions[0], { escalationRef: escalation }); }
    var endId = freeId("SLA_Terlampaui_" + task.id);
    if (endId) { modeling.updateProperties(end, { id: endId }); }
    modeling.updateLabel(end, "SLA terlampaui");
    return timer;
  }

  function sopEscalation() {
    var definitions = modeler.getDefinitions();
    return (definitions.rootElements || []).filter(function (e) {
      return e.$instanceOf("bpmn:Escalation") && (e.id === "Escalation_SLA" || e.escalationCode === "sla_breached");
    })[0] || null;
  }

  // Camunda extension properties stay generic elements (no camunda descriptor is loaded, so nothing is dropped).
  function sopProperty(task, name) {
    var extensions = task.businessObject.extensionElements;
    var found = null;
    ((extensions && extensions.values) || []).forEach(function (block) {
      if (block.$type !== "camunda:properties") { return; }
      (block.$children || []).forEach(function (property) {
        if (property.$type === "camunda:property" && property.name === name) { found = property; }
      });
    });
    return found;
  }

  // --- wiring ---------------------------------------------------------------------------------------------------

  modeler.on("commandStack.changed", function (event) {
    if (event.trigger === "clear") { return; }
    edits += 1;
    markDirty();
    if (current) { showPanel(registry.get(current.id) || null); }
  });
  modeler.on("selection.changed", function (event) { showPanel(event.newSelection[0] || null); });
  nameInput.addEventListener("change", applyName);
  nameInput.addEventListener("keydown", function (event) { if (event.key === "Enter") { applyName(); } });
  durationInput.addEventListener("change", applyDuration);
  durationInput.addEventListener("keydown", function (event) { if (event.key === "Enter") { applyDuration(); } });

  root.querySelector(".modeler-toolbar").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || root.getAttribute("data-state") === "loading") { return; }
    var action = button.getAttribute("data-action");
    if (action === "save") { save(); }
    if (action === "validate") { validate(); }
    if (action === "deploy") { openDeploy(); }
    if (action === "download") { download(); }
  });
  if (dialog) {
    dialog.querySelector('[data-action="deploy-confirm"]').addEventListener("click", deploy);
    dialog.querySelector('[data-action="deploy-cancel"]').addEventListener("click", function () { dialog.close(); });
  }
  window.addEventListener("beforeunload", function (event) {
    if (edits !== savedEdits) { event.preventDefault(); event.returnValue = ""; }
  });

  fetch(root.getAttribute("data-content-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(function (draft) {
      rowVersion = draft.row_version;
      root.setAttribute("data-row-version", String(rowVersion));
      return modeler.importXML(draft.xml);
    })
    .then(function () {
      canvas.zoom("fit-viewport");
      setState("ready");
      setStatus(t("ready"), "ok");
    })
    .catch(function (error) {
      setState("failed");
      setStatus(t("load-failed") + " " + (error && error.message ? error.message : error), "error");
    });
})();
