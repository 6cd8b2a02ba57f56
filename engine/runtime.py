"""The only place that drives SpiffWorkflow: create, load, dump, complete steps and fire timers."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from threading import Lock
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from engine import expressions, taskwalk
from engine import state as _state
from engine.errors import RunawayLoop, TaskNotReady

taskwalk.install()  # SpiffWorkflow's task-tree walks, faster, with the same results (engine/taskwalk.py)

# SpiffWorkflow builds a log record's extras before the level is checked, and while its loggers' own level is unset
# (NOTSET, as Python leaves a logger nobody configured) a workflow's extras list every task of its tree: a walk of the
# whole tree at every new case and every case that ends, for records the WARNING level then drops (a case's start
# spent about 0.1 ms on it). WARNING set on them skips that; set a lower level on them to see SpiffWorkflow's records.
for _name in ("spiff.workflow", "spiff.task"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)

# SpiffWorkflow stalls silently once a task tree is ~1000 deep; each step with a boundary timer adds ~4 levels.
MAX_TREE_DEPTH = 800
SCRIPT_ENGINE = expressions.SafeScriptEngine()


_SPECS = BpmnWorkflowSerializer()


def spec_to_json(spec, subprocess_specs) -> str:
    """Serialize a parsed process spec (stored once per deployment)."""
    return json.dumps({
        "spec": _SPECS.to_dict(spec),
        "subprocess_specs": {name: _SPECS.to_dict(s) for name, s in subprocess_specs.items()},
        "serializer_version": SERIALIZER_VERSION,
    })


def spec_from_json(text: str):
    """Restore (spec, subprocess_specs) from spec_to_json's output."""
    dct = json.loads(text)
    return (_SPECS.from_dict(dct["spec"]),
            {name: _SPECS.from_dict(s) for name, s in dct["subprocess_specs"].items()})


class SpecCache:
    """Deserialized specs per deployment: specs are immutable, so every instance of a version shares one."""

    def __init__(self, size: int = 128):
        self._items: OrderedDict = OrderedDict()
        self._size, self._lock = size, Lock()

    def get(self, key, spec_json_loader):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        specs = spec_from_json(spec_json_loader())
        with self._lock:
            self._items[key] = specs
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return specs


SPEC_CACHE = SpecCache()


def new_workflow(spec, subprocess_specs, data: dict | None = None) -> BpmnWorkflow:
    """A fresh workflow on the safe script engine, with start data."""
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE)
    if data:
        workflow.data.update(data)
        workflow.task_tree.data.update(data)
    return workflow


def load(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    """Restore a workflow saved by dump() onto its deployment's spec, with the safe script engine set again."""
    workflow = _state.load(state, spec, subprocess_specs)
    workflow.script_engine = SCRIPT_ENGINE  # the serializer does not keep it
    return workflow


dump = _state.dump  # a workflow's state without its spec, in SpiffWorkflow's format
dismantle = _state.dismantle  # free a workflow no one uses any more without the cyclic garbage collector


@dataclass(frozen=True)
class PendingTimer:
    task_id: str
    event_id: str
    due: datetime
    work_item_id: str | None  # the human task a boundary timer watches


@dataclass(frozen=True)
class Snapshot:
    """What the rows must show after a step: the ready human tasks and the waiting timers.

    `before` is what they showed before it, when the step started from a workflow whose rows were current (a
    step or a timer of a running case; NOTHING for a new case): the rows then change by the difference, without
    reading them first."""

    ready: list
    timers: list[PendingTimer]
    before: Snapshot | None = None


NOTHING = Snapshot((), ())  # what a new case's rows show before its first change: no work items, no timers


def ready_human_tasks(workflow: BpmnWorkflow) -> list:
    """READY manual tasks, i.e. the work items of the instance."""
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def get_task(workflow: BpmnWorkflow, task_id: str):
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (ValueError, KeyError, TypeError):
        return None


def advance(workflow: BpmnWorkflow, now: datetime, due_time, before: Snapshot | None = None) -> Snapshot:
    """Run engine steps, then in one walk: stamp new timers with Alur's due times and guard the tree depth."""
    workflow.do_engine_steps()
    return _walk(workflow, now, due_time, before)


_LIVE = TaskState.READY | TaskState.WAITING


def _live_tasks(workflow) -> list:
    """The READY and WAITING tasks in the order get_tasks gives them (depth first from the root), a few times
    faster than its iterator; a workflow with called processes takes get_tasks, which walks into them."""
    if workflow.subprocesses:
        return workflow.get_tasks(state=_LIVE)
    tasks, stack, live = workflow.tasks, [workflow.task_tree], []
    while stack:
        task = stack.pop()
        if task._state & _LIVE:  # noqa: SLF001 - the state property is a Python-level call per task
            live.append(task)
        if task._children:  # noqa: SLF001
            stack.extend(tasks[child] for child in reversed(task._children))  # noqa: SLF001
    return live


def _walk(workflow, now, due_time, before=None) -> Snapshot:
    ready, timers = [], []
    for task in _live_tasks(workflow):
        if due_time is not None:
            _check_depth(task)
        if task.state == TaskState.READY:
            if task.task_spec.manual:
                ready.append(task)
            continue
        event = getattr(task.task_spec, "event_definition", None)
        if isinstance(event, TimerEventDefinition) and "event_value" in task.internal_data:
            if due_time is not None:
                _stamp_due_time(task, event, now, due_time)
            timers.append(PendingTimer(str(task.id), task.task_spec.bpmn_id,
                                       _due_of(event, task.internal_data["event_value"]), _watched_task_id(task)))
    return Snapshot(ready, timers, before)


def rows_view(workflow: BpmnWorkflow) -> Snapshot:
    """The ready human tasks and waiting timers as they stand, changing nothing (what the rows show).

    A workflow kept in process after a committed change carries that change's snapshot (`remember_rows`): the
    rows were written from it, so it is taken instead of walking the tree again."""
    kept = workflow.__dict__.pop("_alur_rows", None)
    return kept if kept is not None else _walk(workflow, None, None)


def remember_rows(workflow: BpmnWorkflow, snapshot: Snapshot) -> None:
    """The rows were just committed from `snapshot`; the next change of this workflow object starts from it."""
    workflow._alur_rows = Snapshot(snapshot.ready, snapshot.timers)


def complete(workflow: BpmnWorkflow, task_id: str, data: dict, now: datetime, due_time) -> Snapshot:
    """Complete a READY human task with data; raise TaskNotReady when it is not one."""
    task = get_task(workflow, task_id)
    if task is None:
        raise TaskNotReady("This work item is not part of the case any more; reload the page.", work_item=task_id)
    if not task.task_spec.manual:
        raise TaskNotReady("This is not a human step.", work_item=task_id, step=task.task_spec.bpmn_id)
    if task.state != TaskState.READY:
        state = TaskState.get_name(task.state).lower()
        raise TaskNotReady(f"This step is not waiting for work (it is {state}); it may have been completed "
                           "by someone else. Reload.", work_item=task_id, step=task.task_spec.bpmn_id)
    before = rows_view(workflow)
    task.data.update(data)
    task.run()
    return advance(workflow, now, due_time, before)


def _due_of(event, value) -> datetime:
    if isinstance(event, CycleTimerEventDefinition):
        return datetime.fromisoformat(value["next"]).astimezone(UTC)
    return TimerEventDefinition.get_datetime(value)


def _watched_task_id(task) -> str | None:
    # A boundary event's siblings under the BoundaryEventSplit include the task it is attached to.
    if task.parent is None:
        return None
    for sibling in task.parent.children:
        if sibling is not task and sibling.task_spec.manual:
            return str(sibling.id)
    return None


def _stamp_due_time(task, event, now: datetime, due_time) -> None:
    """Replace SpiffWorkflow's wall-clock due time of a new duration timer by `due_time(start, iso)`, once."""
    if task.internal_data.get("alur_due") or isinstance(event, CycleTimerEventDefinition):
        return
    expression = expressions.evaluate_timer(event.expression, task.data)
    if expression.upper().startswith("P"):
        due = due_time(now, expression)
        task.internal_data["event_value"] = due.astimezone(UTC).isoformat()
        # Kept so a calendar edit (a new office holiday) can recompute the deadline from the same start.
        task.internal_data["alur_due"] = {"start": now.astimezone(UTC).isoformat(), "duration": expression}
    else:
        task.internal_data["alur_due"] = True


def restamp_timers(workflow: BpmnWorkflow, due_time) -> list[PendingTimer]:
    """Recompute the due time of every waiting duration timer from its start, e.g. after a calendar edit."""
    changed = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        event = getattr(task.task_spec, "event_definition", None)
        stamp = task.internal_data.get("alur_due")
        if not isinstance(event, TimerEventDefinition) or not isinstance(stamp, dict):
            continue
        due = due_time(datetime.fromisoformat(stamp["start"]), stamp["duration"]).astimezone(UTC)
        if due.isoformat() != task.internal_data.get("event_value"):
            task.internal_data["event_value"] = due.isoformat()
            changed.append(PendingTimer(str(task.id), task.task_spec.bpmn_id, due, _watched_task_id(task)))
    return changed


def fire_timer(workflow: BpmnWorkflow, timer_task_id: str, now: datetime, due_time) -> Snapshot | None:
    """Fire one waiting timer now (Alur's clock decides when it is due); None if it is not waiting."""
    task = get_task(workflow, timer_task_id)
    if task is None or task.state != TaskState.WAITING:
        return None
    before = rows_view(workflow)
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value["next"] = past
    else:
        task.internal_data["event_value"] = past
    task.task_spec._update(task)  # noqa: SLF001 - SpiffWorkflow's own refresh_timers does exactly this
    return advance(workflow, now, due_time, before)


def _check_depth(task) -> None:
    """Refuse to go on once a rework loop has run so often that SpiffWorkflow would stall."""
    depth = task.depth
    if depth > MAX_TREE_DEPTH:
        raise RunawayLoop(
            f"This case has gone round its loops so many times (task depth {depth}) that the engine would "
            "stall; the step was not saved. An administrator must cancel or migrate the case.",
            step=task.task_spec.bpmn_id,
        )


def elapsed_due_time(start: datetime, iso_duration: str) -> datetime:
    """Due time counting elapsed (24x7) time, used when no office calendar applies."""
    parsed = TimerEventDefinition.parse_iso_duration(iso_duration)
    return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
