"""Lint BPMN diagrams, report every problem at once, and extract what Alur needs to run them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine import calendar as working_calendar
from engine import expressions, limits, xml
from engine.extract import HUMAN_TAGS, label, lanes_of, process_info
from engine.model import Problem, ProcessInfo

REFUSED_ELEMENTS = {
    "scriptTask": "script tasks run code on the server, which Alur never allows; model the work as a user task",
    "serviceTask": "service tasks call code on the server, which Alur never allows; model the work as a user task",
    "businessRuleTask": "business rule tasks are not supported; model the decision as a user task and a gateway",
    "sendTask": "send tasks are not supported; model the message as a user task",
    "receiveTask": "receive tasks are not supported; model the wait as a user task",
    "complexGateway": "complex gateways are not supported; use exclusive or parallel gateways",
}
REFUSED_EVENTS = {
    "linkEventDefinition": "link events are not allowed: SpiffWorkflow silently ends the path there; draw the flow "
                           "as a sequence flow (an off-page connector is only a layout artefact)",
    "messageEventDefinition": "message events are not supported yet; model the exchange as a user task",
}
SCRIPT_TAGS = {"script", "preScript", "postScript"}
LISTENER_TAGS = {"executionListener", "taskListener"}
MESSAGE_EXPRESSION_TAGS = {"messagePayload", "messageVariable"}
EXPRESSION_TAGS = {"conditionExpression", "condition", "loopCardinality", "completionCondition", "loopCondition"}
TIMER_TAGS = {"timeDuration", "timeDate", "timeCycle"}
RESERVED_IDS = {"Start", "End", "Root", "StartEventSplit"}
RESERVED_SUFFIXES = (".EndJoin", ".BoundaryEventSplit", ".BoundaryEventJoin", " [child]")


@dataclass
class LintReport:
    """Every problem found in a set of files, and the processes that can be deployed."""

    problems: list[Problem] = field(default_factory=list)
    processes: list[ProcessInfo] = field(default_factory=list)
    specs: dict = field(default_factory=dict)  # key -> (spec, subprocess_specs)
    sources: dict = field(default_factory=dict)  # key -> (filename, bytes)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def infos(self) -> list[Problem]:
        """Facts worth knowing that are neither errors nor warnings (severity "info")."""
        return [p for p in self.problems if p.severity == "info"]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Findings:
    """Collects problems for one file."""

    def __init__(self, filename: str, report: LintReport):
        self.filename, self.report = filename, report

    def error(self, node, message, element=None):
        self._add(node, message, element, "error")

    def warning(self, node, message, element=None):
        self._add(node, message, element, "warning")

    def info(self, node, message, element=None):
        self._add(node, message, element, "info")

    def _add(self, node, message, element, severity):
        line = getattr(node, "sourceline", None)
        if element is None and node is not None and hasattr(node, "get"):
            element = _owner_id(node)
        self.report.problems.append(Problem(self.filename, line, element, message, severity))


def _owner_id(node) -> str | None:
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def lint(files: list[tuple[str, bytes]], *, allow_non_executable: bool = False) -> LintReport:
    """Lint one or several diagram files together; never raises for bad input."""
    report = LintReport()
    trees = []
    for filename, data in files:
        tree, problem = xml.parse(data)
        if problem:
            report.problems.append(Problem(filename, problem.line, None, problem.message))
            continue
        findings = _Findings(filename, report)
        if _check_document(tree, findings, allow_non_executable):
            trees.append((filename, data, tree))
    if report.errors:
        return report
    _build_specs(trees, report, allow_non_executable)
    return report


def _check_document(tree, f: _Findings, allow_non_executable: bool) -> bool:
    root = tree.getroot()
    if root.tag != xml.bpmn("definitions"):
        f.error(root, f"the root element is <{xml.local(root.tag) or '?'}>, not a BPMN 2.0 <definitions> "
                      f"(namespace {xml.BPMN_NS})")
        return False
    seen_ids: dict[str, int] = {}
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        node_id = node.get("id")
        if node_id and (node_id in RESERVED_IDS or node_id.endswith(RESERVED_SUFFIXES)):
            f.error(node, f"the id '{node_id}' is reserved by the process engine and would silently break the "
                          "process; rename the element (for example to '" + xml.local(node.tag) + "_" + node_id + "')")
        if node_id and len(node_id) > limits.MAX_ID and node.tag.startswith(f"{{{xml.BPMN_NS}}}"):
            f.error(node, f"the id '{_short(node_id, 40)}' has {len(node_id)} characters; an id may have at most "
                          f"{limits.MAX_ID}")
        if node_id:
            if node_id in seen_ids and node.tag.startswith(f"{{{xml.BPMN_NS}}}"):
                f.error(node, f"the id '{node_id}' is used twice (first on line {seen_ids[node_id]})")
            seen_ids.setdefault(node_id, node.sourceline)
        _check_node(node, f)
    processes = root.findall(xml.bpmn("process"))
    if not processes:
        f.error(root, "the file contains no BPMN process")
    for proc in processes:
        _check_process(proc, f, allow_non_executable)
    return True


def _check_node(node, f: _Findings) -> None:
    tag = xml.local(node.tag)
    if not node.tag.startswith(f"{{{xml.BPMN_NS}}}"):
        _check_extension(node, tag, f)
    elif tag in REFUSED_ELEMENTS:
        f.error(node, f"{label(node)}: {REFUSED_ELEMENTS[tag]}")
    elif tag in REFUSED_EVENTS:
        f.error(node.getparent(), f"{label(node.getparent())}: {REFUSED_EVENTS[tag]}")
    elif tag == "correlationPropertyRetrievalExpression":
        f.error(node, f"{label(node.getparent())} has a message correlation expression: message correlation is "
                      "not supported and diagrams may not run code on the server")
    elif tag == "script" and xml.local(node.getparent().tag) != "scriptTask":
        f.error(node, f"{label(_owner(node))} carries a script: diagrams may not run code on the server")
    elif tag in EXPRESSION_TAGS and (node.text or "").strip():
        reason = expressions.check_expression(node.text.strip())
        if reason:
            f.error(node, f"the {_expression_kind(node)} '{_short(node.text)}' {reason}")
    elif tag in TIMER_TAGS:
        text = (node.text or "").strip()
        reason = limits.timer_problem(tag, text)
        if reason:
            f.error(node, f"the timer of {label(_owner(node))} ('{_short(text)}') {reason}")


def _check_extension(node, tag, f: _Findings) -> None:
    """Extension elements of any vendor that would run code."""
    if tag in SCRIPT_TAGS:
        f.error(node, f"{label(_owner(node))} carries a {tag}: diagrams may not run code on the server")
    elif tag in MESSAGE_EXPRESSION_TAGS:
        f.error(node, f"{label(_owner(node))} carries a message expression ({tag}): diagrams may not run code on "
                      "the server")
    elif tag in LISTENER_TAGS:
        f.error(node, f"{label(_owner(node))} has a Camunda {tag}: listeners run code, which Alur never allows")


def _owner(node):
    while node.getparent() is not None and not node.get("id"):
        node = node.getparent()
    return node.getparent() if xml.local(node.tag).endswith("EventDefinition") else node


def _expression_kind(node) -> str:
    parent = node.getparent()
    if xml.local(node.tag) == "conditionExpression":
        return f"condition on {label(parent)}"
    return f"{xml.local(node.tag)} of {label(_owner(node))}"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_process(proc, f: _Findings, allow_non_executable: bool) -> None:
    key = proc.get("id") or ""
    nodes = [n for n in proc.iter() if isinstance(n.tag, str) and n is not proc]
    if not any(xml.local(n.tag) == "startEvent" for n in nodes):
        if nodes:
            f.error(proc, f"process '{key}' has no start event")
        return
    if proc.get("isExecutable", "true") != "true":
        message = (f"process '{key}' is saved with isExecutable=\"false\" (modelling tools do this); "
                   "tick 'Executable' in the editor")
        if allow_non_executable:
            f.warning(proc, message + "; deploying anyway because it was explicitly allowed")
        else:
            f.error(proc, message + ", or deploy with --allow-non-executable")
    flow_nodes = [n for n in nodes if n.tag.startswith(f"{{{xml.BPMN_NS}}}") and limits.is_flow_node(xml.local(n.tag))]
    if len(flow_nodes) > limits.MAX_FLOW_NODES:
        f.error(proc, f"process '{key}' has {len(flow_nodes)} tasks, events and gateways; Alur runs processes of at "
                      f"most {limits.MAX_FLOW_NODES}: split it into processes joined by call activities")
        return
    for loop in limits.endless_loops(proc, flow_nodes):
        f.error(loop[0], f"{label(loop[0])} is in a loop of sequence flows that no gateway can leave "
                         f"({' → '.join(n.get('id') for n in loop[:6])}{' …' if len(loop) > 6 else ''}): a case "
                         "would go round it forever; lead the loop through an exclusive gateway with a way out")
    lanes = lanes_of(proc)
    for node in nodes:
        if node.tag in HUMAN_TAGS:
            lane = lanes.get(node.get("id"))
            if lane is None or not lane[1]:
                f.error(node, f"{label(node)} is in no named lane, so no role can do it; "
                              "put it in a lane named after the actor")


def _build_specs(trees, report: LintReport, allow_non_executable: bool) -> None:
    parser, ids_to_line = BpmnParser(), {}
    for filename, _data, tree in trees:
        _add_to_parser(parser, filename, tree, ids_to_line, _Findings(filename, report))
    if report.errors:
        return
    for filename, data, tree in trees:
        f = _Findings(filename, report)
        for proc in tree.getroot().findall(xml.bpmn("process")):
            info = process_info(proc, f)
            if info is None or (not info.executable and not allow_non_executable):
                continue
            _check_lengths(proc, info, f)
            specs = _process_specs(parser, info, proc, f, ids_to_line)
            if specs is None:
                continue
            if info.key in report.specs:
                f.error(proc, f"process id '{info.key}' is defined twice in the files deployed together")
                continue
            report.specs[info.key] = specs
            report.sources[info.key] = (filename, data)
            report.processes.append(info)
            if not info.steps:
                f.warning(proc, f"process '{info.key}' has no human steps")
            else:
                _check_standard_times(proc, info, f)


def _check_lengths(proc, info, f: _Findings) -> None:
    """Names longer than the database keeps are refused here, at their element, not by the database at deploy."""
    if len(info.name) > limits.MAX_PROCESS_NAME:
        f.error(proc, f"the name of process '{info.key}' has {len(info.name)} characters; a process name may have "
                      f"at most {limits.MAX_PROCESS_NAME}")
    nodes = {n.get("id"): n for n in proc.iter() if isinstance(n.tag, str) and n.get("id")}
    for step in info.steps:
        if len(step.name) > limits.MAX_STEP_NAME:
            f.error(nodes.get(step.id), f"the name of step {step.id} has {len(step.name)} characters; a step name "
                                        f"may have at most {limits.MAX_STEP_NAME}", element=step.id)
    for lane in proc.iter(xml.bpmn("lane")):
        name = (lane.get("name") or "").strip()
        if len(name) > limits.MAX_LANE_NAME:
            f.error(lane, f"the name of lane {lane.get('id') or '(no id)'} has {len(name)} characters; a lane name "
                          f"may have at most {limits.MAX_LANE_NAME}")


def _check_standard_times(proc, info, f: _Findings) -> None:
    """Warn about steps without a standard time; state the main path's length and total standard time."""
    nodes = {n.get("id"): n for n in proc.iter() if isinstance(n.tag, str) and n.get("id")}
    for step in info.steps:
        if not step.sla:
            f.warning(nodes.get(step.id), f"{label(nodes[step.id])} has no standard time; add a non-interrupting "
                                          "timer boundary event (for example PT3H) so the case shows its deadline "
                                          "and the step is reported when it runs late", element=step.id)
    by_id = {s.id: s for s in info.steps}
    path = [by_id[i] for i in info.main_path if i in by_id]
    total, missing = working_calendar.total_standard_time(step.sla for step in path)
    note = f" ({missing} of its steps {'has' if missing == 1 else 'have'} none)" if missing and total else ""
    f.info(proc, f"process '{info.key}': main path {len(path)} step{'s' if len(path) != 1 else ''}, standard time "
                 f"{readable_duration(total) if total else 'not set'}{note}", element=info.key)


def readable_duration(duration) -> str:
    """A duration as people read it: '2 d 3 h 20 min' (days are working days where the office counts so)."""
    hours, rest = divmod(int(round(duration.seconds)), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value} {unit}" for value, unit in ((duration.days, "d"), (hours, "h"), (minutes, "min"),
                                                   (seconds, "s")) if value]
    return " ".join(parts) or "0 min"


def lines_of(report: LintReport, key: str) -> dict[str, int]:
    """The source line of each element id in the file a linted process came from."""
    tree, _ = xml.parse(report.sources[key][1])
    if tree is None:
        return {}
    return {n.get("id"): n.sourceline for n in tree.getroot().iter() if isinstance(n.tag, str) and n.get("id")}


def _add_to_parser(parser, filename, tree, ids_to_line, f: _Findings) -> None:
    for node in tree.getroot().iter():
        if isinstance(node.tag, str) and node.get("id"):
            ids_to_line.setdefault(node.get("id"), (filename, node.sourceline))
    try:
        parser.add_bpmn_xml(tree, filename)
    except ValidationException as err:
        _spiff_problem(err, f, ids_to_line)
    except Exception as err:  # noqa: BLE001 - third-party parser on untrusted input must never crash lint
        f.error(None, f"SpiffWorkflow could not read the file: {_plain(str(err))}")


def _process_specs(parser, info, proc, f: _Findings, ids_to_line):
    process_parser = parser.get_process_parser(info.key)
    if process_parser is None:
        return None
    process_parser.process_executable = True  # lint already refused or allowed isExecutable="false"
    try:
        return parser.get_spec(info.key), parser.get_subprocess_specs(info.key)
    except ValidationException as err:
        _spiff_problem(err, f, ids_to_line)
    except Exception as err:  # noqa: BLE001 - see _add_to_parser
        f.error(proc, f"SpiffWorkflow could not build process '{info.key}': {_plain(str(err))}")
    return None


def _spiff_problem(err: ValidationException, f: _Findings, ids_to_line) -> None:
    element = getattr(err, "id", None) or None
    line = getattr(err, "line_number", None) or None
    if element and not line and element in ids_to_line:
        line = ids_to_line[element][1]
    message = _plain(str(err))
    f.report.problems.append(Problem(f.filename, line if isinstance(line, int) else None, element,
                                     f"SpiffWorkflow cannot execute this: {message}"))


def _plain(text: str) -> str:
    """One line of plain text from a third-party message (no lxml object reprs, no stray whitespace)."""
    text = re.sub(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>", r"<\1>", text)
    text = " ".join(text.split())
    return text.rstrip(" .") + "." if text else "no reason given."


def problem_lines(problems) -> list[str]:
    """Format problems one per line, errors first."""
    ordered = sorted(problems, key=lambda p: (p.severity != "error", p.file, p.line or 0))
    return [str(p) for p in ordered]
