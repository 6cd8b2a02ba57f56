"""Extract what Alur needs to run a linted diagram: lanes, steps with SOP metadata, decisions, forms, main path."""

from __future__ import annotations

import re

from engine import expressions, xml
from engine.model import Decision, ProcessInfo, Step

HUMAN_TASKS = {"userTask", "manualTask", "task"}
HUMAN_TAGS = {xml.bpmn(tag) for tag in HUMAN_TASKS}
_SEQUENCE_FLOW, _BOUNDARY_EVENT = xml.bpmn("sequenceFlow"), xml.bpmn("boundaryEvent")
DECISION_RE = re.compile(r"""^\s*([A-Za-z][A-Za-z0-9_]*)\s*==\s*(?:"([^"]*)"|'([^']*)')\s*$""")
FIELD_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
FIELD_TYPES = {"string", "long", "boolean", "date", "enum"}
# Bounds the main-path search on large, heavily branched diagrams; the seeds need a few hundred visits.
_PATH_SEARCH_BUDGET = 50_000


def label(node) -> str:
    """How a problem message names an element: its kind and its name (or id)."""
    name = " ".join((node.get("name") or "").split())  # editors keep line breaks typed into names
    kind = re.sub(r"(?<!^)(?=[A-Z])", " ", xml.local(node.tag)).lower()
    return f"{kind} '{name}'" if name else f"{kind} {node.get('id') or '(no id)'}"


def lanes_of(proc) -> dict[str, tuple[str, str]]:
    """Map flow node id -> (lane id, lane name) of the innermost lane that lists it."""
    lanes = {}
    for lane in proc.iter(xml.bpmn("lane")):
        for ref in lane.findall(xml.bpmn("flowNodeRef")):
            if ref.text:
                lanes[ref.text.strip()] = (lane.get("id"), (lane.get("name") or "").strip())
    return lanes


def process_info(proc, f) -> ProcessInfo | None:
    """Everything Alur keeps about one process, reporting what the forms or decisions cannot support to `f`."""
    nodes = [n for n in proc.iter() if isinstance(n.tag, str)]
    if not any(xml.local(n.tag) == "startEvent" for n in nodes):
        return None
    lanes = lanes_of(proc)
    by_id = {n.get("id"): n for n in nodes if n.get("id")}
    # One pass over the flows and boundary events instead of one per step (a 100-step SOP has ~300 flows).
    outgoing, boundaries = {}, {}
    for node in nodes:
        if node.tag == _SEQUENCE_FLOW:
            outgoing.setdefault(node.get("sourceRef"), []).append(node)
        elif node.tag == _BOUNDARY_EVENT:
            boundaries.setdefault(node.get("attachedToRef"), []).append(node)
    info = ProcessInfo(
        key=proc.get("id"),
        name=(proc.get("name") or _participant_name(proc) or proc.get("id")).strip(),
        executable=proc.get("isExecutable", "true") == "true",
        documentation=_documentation(proc),
        properties=_properties(proc),
        lanes=[(ln.get("id"), (ln.get("name") or "").strip()) for ln in proc.iter(xml.bpmn("lane"))],
    )
    for node in nodes:
        tag = xml.local(node.tag)
        if tag == "startEvent" and node.getparent() is proc:
            lane = lanes.get(node.get("id"))
            if lane and lane[1]:
                info.start_lanes.append(lane[1])
            info.start_form = info.start_form or _form_fields(node, f)
        if node.tag in HUMAN_TAGS:
            info.steps.append(_step(node, lanes, by_id, outgoing, boundaries.get(node.get("id"), ()), f))
    info.main_path = main_path(proc, {s.id for s in info.steps})
    return info


def _participant_name(proc) -> str | None:
    for participant in proc.getroottree().getroot().iter(xml.bpmn("participant")):
        if participant.get("processRef") == proc.get("id"):
            return participant.get("name")
    return None


def _documentation(node) -> str:
    return "\n".join((d.text or "").strip() for d in node.findall(xml.bpmn("documentation"))).strip()


def _properties(node) -> dict:
    ext = node.find(xml.bpmn("extensionElements"))
    if ext is None:
        return {}
    props = {}
    for prop in ext.iter():
        if isinstance(prop.tag, str) and xml.local(prop.tag) == "property" and prop.get("name"):
            props[prop.get("name").strip()] = prop.get("value") or ""
    return props


def _step(node, lanes, by_id, outgoing, boundaries, f) -> Step:
    """A human step; `outgoing` maps a source id to its sequence flows, `boundaries` are the events on this step."""
    step_id = node.get("id")
    lane_id, lane = lanes.get(step_id, (None, None))
    props = _properties(node)
    sla = None
    for boundary in boundaries:
        duration = boundary.find(f"{xml.bpmn('timerEventDefinition')}/{xml.bpmn('timeDuration')}")
        if duration is not None and duration.text:
            literal = expressions.timer_literal(duration.text)
            if literal and (sla is None or boundary.get("cancelActivity") == "false"):
                sla = literal
    return Step(
        id=step_id,
        name=(node.get("name") or step_id).strip(),
        lane_id=lane_id,
        lane=lane,
        documentation=_documentation(node),
        sla=sla,
        kelengkapan=props.get("kelengkapan"),
        output=props.get("output"),
        keterangan=props.get("keterangan"),
        decision=_decision(node, by_id, outgoing, f),
        form=_form_fields(node, f),
    )


def _decision(node, by_id, outgoing, f) -> Decision | None:
    """The choice recorded by a step that leads straight into an exclusive gateway testing `var == "literal"`."""
    flows = outgoing.get(node.get("id"), [])
    if len(flows) != 1:
        return None
    gateway = by_id.get(flows[0].get("targetRef"))
    if gateway is None or xml.local(gateway.tag) != "exclusiveGateway":
        return None
    variable, choices, labels = None, [], []
    for flow in outgoing.get(gateway.get("id"), []):
        cond = flow.find(xml.bpmn("conditionExpression"))
        match = DECISION_RE.match(cond.text or "") if cond is not None else None
        if not match:
            continue
        if variable not in (None, match.group(1)):
            f.warning(gateway, f"{label(gateway)} tests both '{variable}' and '{match.group(1)}'; "
                               "a step's decision form can only record one of them")
            return None
        variable = match.group(1)
        value = match.group(2) if match.group(2) is not None else match.group(3)
        choices.append(value)
        labels.append(" ".join((flow.get("name") or "").split()) or value)
    if variable is None or len(choices) < 2:
        return None
    return Decision(gateway.get("id"), variable, tuple(choices), tuple(labels))


def _form_fields(node, f) -> tuple:
    """camunda:formData fields (what Camunda Modeler edits), each checked to be usable as a workflow variable."""
    fields, seen = [], set()
    for field_node in node.iter(f"{{{xml.CAMUNDA_NS}}}formField"):
        field_id = (field_node.get("id") or "").strip()
        kind = (field_node.get("type") or "string").strip()
        if not FIELD_ID_RE.match(field_id):
            f.error(field_node, f"the form field id '{field_id}' of {label(node)} must be a name made of letters, "
                                "digits and '_' (it becomes a case variable)", element=node.get("id"))
            continue
        if field_id in seen:
            f.error(field_node, f"{label(node)} has two form fields named '{field_id}'", element=node.get("id"))
            continue
        seen.add(field_id)
        if kind not in FIELD_TYPES:
            f.warning(field_node, f"form field '{field_id}' of {label(node)} has the type '{kind}', which Alur "
                                  "shows as text", element=node.get("id"))
        constraints = {c.get("name"): c.get("config") for c in field_node.iter(f"{{{xml.CAMUNDA_NS}}}constraint")}
        values = [(v.get("id"), v.get("name") or v.get("id")) for v in field_node.iter(f"{{{xml.CAMUNDA_NS}}}value")]
        if kind == "enum" and not values:
            f.error(field_node, f"the choice field '{field_id}' of {label(node)} has no values to choose from",
                    element=node.get("id"))
        fields.append({
            "id": field_id,
            "label": (field_node.get("label") or field_id).strip(),
            "type": kind,
            "default": field_node.get("defaultValue"),
            "required": "required" in constraints,
            "values": values,
            "constraints": {k: v for k, v in constraints.items() if k},
        })
    return tuple(fields)


def main_path(proc, step_ids: set[str]) -> list[str]:
    """The human steps of the longest loop-free path from the start event to an end event.

    That is the path an SOP sheet's totals describe: review loops back and SLA escalations (flows leaving a
    boundary event) are off it, optional branches such as an audience are on it. A parallel split contributes
    one branch only.
    """
    graph: dict[str, list[str]] = {}
    for flow in proc.iter(xml.bpmn("sequenceFlow")):
        graph.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    kinds = {n.get("id"): xml.local(n.tag) for n in proc.iter() if isinstance(n.tag, str) and n.get("id")}
    starts = [n.get("id") for n in proc.findall(xml.bpmn("startEvent"))]
    best: list[str] = []
    budget = [_PATH_SEARCH_BUDGET]

    def walk(node, path, seen):
        nonlocal best
        budget[0] -= 1
        if budget[0] < 0:
            return
        if kinds.get(node) == "endEvent" or not graph.get(node):
            steps = [n for n in path if n in step_ids]
            if len(steps) > len(best):
                best = steps
            return
        for target in graph.get(node, []):
            if target not in seen and kinds.get(target) != "boundaryEvent":
                seen.add(target)
                path.append(target)
                walk(target, path, seen)
                path.pop()
                seen.discard(target)

    for start in starts:
        walk(start, [start], {start})
    return best or [s for s in step_ids if s in kinds]
