"""What SpiffWorkflow can run: the sizes the database keeps, the timer shapes it handles, loops a case can leave.

Lint (engine/diagrams.py) refuses a diagram that breaks one of these at its element, instead of letting a deploy
fail in the database or a case spin or crash later inside SpiffWorkflow.
"""

from __future__ import annotations

from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import expressions, xml

MAX_CYCLE_REPEATS, MIN_CYCLE_SECONDS = 100, 60
# What each timer element holds; SpiffWorkflow crashes at run time on a duration in a timeDate and the like.
TIMER_KINDS = {"timeDuration": ("duration", "PT3H or P2D"), "timeDate": ("date", "2026-12-01T08:00:00+07:00"),
               "timeCycle": ("cycle", "R3/PT1H")}
# The longest ids and names the database keeps (adapters/tables.py); PostgreSQL refuses longer values.
MAX_ID, MAX_PROCESS_NAME, MAX_STEP_NAME, MAX_LANE_NAME = 200, 300, 500, 200
# SpiffWorkflow walks a process recursively: from about 490 elements in a row it fails (RecursionError). The
# largest real diagram seen (MIWG C.5.0) has 133; an SOP has a few dozen.
MAX_FLOW_NODES = 300
FLOW_NODE_KINDS = {"task", "subProcess", "callActivity", "transaction", "adHocSubProcess"}
# A loop must pass one of these, or SpiffWorkflow predicts it forever (RecursionError) and no case could leave it.
LOOP_EXITS = {"exclusiveGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway", "boundaryEvent"}


def timer_problem(tag: str, text: str) -> str | None:
    reason = expressions.check_timer(text) if text else "is empty"
    literal = expressions.timer_literal(text) if reason is None else None
    if reason is None and literal is None:
        # A computed timer naming data the case lacks would stop every case at the step before it.
        return ("is not a valid ISO-8601 duration, date or cycle; write it like PT3H, P2D, "
                "2026-12-01T08:00:00+07:00 or R3/PT1H")
    if literal is not None and expressions.timer_kind(literal) != TIMER_KINDS[tag][0]:
        kind, example = TIMER_KINDS[tag]
        return (f"is a {expressions.timer_kind(literal)}, but a <{tag}> holds a {kind}, like {example}; "
                "choose the timer type that matches")
    if literal is not None and tag == "timeCycle":
        return cycle_problem(literal)
    return reason


def cycle_problem(literal: str) -> str | None:
    """Why a cycle would flood the engine: SpiffWorkflow fires every repeat already due at once, in one step."""
    parts = literal.split("/")
    count = parts[0][1:]
    if not count or not 1 <= int(count) <= MAX_CYCLE_REPEATS:
        times = "without end" if not count else f"{int(count)} times"
        return (f"repeats {times}; a cycle must repeat from 1 to {MAX_CYCLE_REPEATS} times "
                f"(R1/… to R{MAX_CYCLE_REPEATS}/…)")
    duration = next(p for p in parts[1:] if p.startswith("P"))
    start = datetime.now(UTC)
    parsed = TimerEventDefinition.parse_iso_duration(duration)
    seconds = (TimerEventDefinition.get_timedelta_from_start(parsed, start)).total_seconds()
    if seconds < MIN_CYCLE_SECONDS:
        return f"repeats every {seconds:g} seconds; a cycle must wait at least a minute between its repeats"
    return None


def is_flow_node(kind: str) -> bool:
    return kind in FLOW_NODE_KINDS or kind.endswith(("Task", "Event", "Gateway"))


def endless_loops(proc, flow_nodes) -> list[list]:
    """Each loop of sequence flows without a way out (as its elements in document order, first to last)."""
    ids = [n.get("id") for n in flow_nodes if n.get("id")]
    twice = {i for i in ids if ids.count(i) > 1} if len(set(ids)) < len(ids) else set()  # reported on their own
    order = {n.get("id"): i for i, n in enumerate(flow_nodes) if n.get("id") and n.get("id") not in twice}
    by_id = {n.get("id"): n for n in flow_nodes if n.get("id") in order}
    graph: dict[str, list[str]] = {}
    for flow in proc.iter(xml.bpmn("sequenceFlow")):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source in by_id and target in by_id:
            graph.setdefault(source, []).append(target)
    for node in flow_nodes:  # a boundary event leaves its activity
        if xml.local(node.tag) == "boundaryEvent" and node.get("attachedToRef") in by_id and node.get("id"):
            graph.setdefault(node.get("attachedToRef"), []).append(node.get("id"))
    loops = []
    for component in _cycles(graph):
        if not any(xml.local(by_id[i].tag) in LOOP_EXITS for i in component):
            loops.append([by_id[i] for i in sorted(component, key=order.get)])
    return sorted(loops, key=lambda loop: order[loop[0].get("id")])


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of `graph` that hold a cycle (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = graph.get(node, [])
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = _pop_component(stack, on_stack, node)
                if len(component) > 1 or node in children:
                    found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component
