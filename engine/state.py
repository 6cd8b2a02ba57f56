"""A case's workflow state: saved without its spec, restored onto the cached spec, kept in process between steps.

`dump` writes exactly what SpiffWorkflow's own serializer writes (tests/unit/test_state.py compares the two on
every step of the seed SOPs and the test diagrams), only faster: the task converter is inlined, task ids are
turned into text once per workflow, and orjson encodes. `WorkflowCache` keeps the workflow a committed step left
behind, so the next step of that case in the same process pays no deserialization.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from threading import Lock
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState


class _SharedSpecWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec and restores it onto a spec object the caller supplies."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = _tasks_from_dict(dct["tasks"], workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_CONFIG = dict(DEFAULT_CONFIG)
_CONFIG[BpmnWorkflow] = _SharedSpecWorkflowConverter
STATE = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_CONFIG))
_REGISTRY = STATE.registry
_TASK_TYPENAME = _REGISTRY.typenames[Task]
_WORKFLOW_TYPENAME = _REGISTRY.typenames[BpmnWorkflow]
_TASK_CLASS = _REGISTRY.convert_from_dict[_TASK_TYPENAME].args[0].__self__.target_class
_ENCODER = STATE._encoder_cls()  # noqa: SLF001 - SpiffWorkflow's JSON encoder: its `default` converts what JSON lacks
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


def dump(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's state without its spec: SpiffWorkflow's format, in one pass over the tasks."""
    if not workflow.subprocesses:
        try:
            return _dump_fast(workflow)
        except TypeError:  # e.g. an integer too large for orjson: the standard library encodes everything JSON can
            pass
    _REGISTRY._encoder_mode = True  # noqa: SLF001 - what serialize_json sets: dicts are cleaned, not walked
    try:
        # Call activities (subprocesses) take SpiffWorkflow's own converter: rare, and not hot.
        dct = STATE.to_dict(workflow) if workflow.subprocesses else _workflow_dict(workflow)
        dct[STATE.VERSION_KEY] = STATE.VERSION
    finally:
        _REGISTRY._encoder_mode = False  # noqa: SLF001
    try:
        return orjson.dumps(dct, default=_ENCODER.default, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(dct, cls=STATE._encoder_cls)  # noqa: SLF001


# A finished task never changes again (SpiffWorkflow only moves tasks that are not finished; Alur stamps only waiting
# timers), so its JSON is kept on the workflow object between dumps, checked against its state, its last state change
# and its number of children: only the tasks a step touched are encoded again. A predicted task (future, likely,
# maybe) holds no data of its own: its JSON is kept too, checked against everything it is made of (state, last state
# change, children, triggered, and the names in its parent's data, which its delta lists as deletions).
_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED


def _dump_fast(workflow: BpmnWorkflow) -> str:
    """dump() for a workflow without subprocesses: each finished or predicted task's JSON is encoded once and
    reused while the task stays as it was."""
    kept = workflow.__dict__.get("_alur_task_json", {})
    keep = {}  # only the tasks the workflow still has: predicted tasks come and go
    text = _id_texts(workflow)
    tasks = {}
    _REGISTRY._encoder_mode = True  # noqa: SLF001
    try:
        for uid, task in workflow.tasks.items():
            key = text(uid)
            if task._state & _FINISHED:  # noqa: SLF001
                mark = (task._state, task.last_state_change, len(task._children))  # noqa: SLF001
            elif not task.data and not task.internal_data:
                parent = task.parent
                mark = (task._state, task.last_state_change, tuple(task._children), task.triggered,  # noqa: SLF001
                        tuple(parent.data) if parent is not None else None)
            else:
                tasks[key] = _task_dict(task, text)
                continue
            entry = kept.get(key)
            if entry is None or entry[0] != mark:
                encoded = orjson.dumps(_task_dict(task, text), default=_ENCODER.default, option=_ORJSON_OPTIONS)
                # A copy of the exact size: orjson's own result keeps a buffer of 4 KiB or more.
                entry = (mark, orjson.Fragment(memoryview(encoded).tobytes()))
            keep[key] = entry
            tasks[key] = entry[1]
        workflow.__dict__["_alur_task_json"] = keep
        dct = _workflow_dict(workflow, tasks)
        dct[STATE.VERSION_KEY] = STATE.VERSION
        return orjson.dumps(dct, default=_ENCODER.default, option=_ORJSON_OPTIONS).decode()
    finally:
        _REGISTRY._encoder_mode = False  # noqa: SLF001


def load(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    """Restore a workflow saved by dump() onto its deployment's spec (the caller sets the script engine)."""
    dct = orjson.loads(state)
    dct.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
    dct["spec"], dct["subprocess_specs"] = spec, subprocess_specs
    return STATE.from_dict(dct)


def _workflow_dict(workflow: BpmnWorkflow, tasks: dict | None = None) -> dict:
    """What STATE.to_dict(workflow) returns for a workflow without subprocesses (with `tasks` when given)."""
    text = _id_texts(workflow)
    if tasks is None:
        tasks = {text(uid): _task_dict(task, text) for uid, task in workflow.tasks.items()}
    last = workflow.last_task
    return {
        "data": _REGISTRY.convert(_REGISTRY.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": text(last.id) if last is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": tasks,
        "root": text(workflow.task_tree.id),
        "subprocesses": {},
        "bpmn_events": _REGISTRY.convert(workflow.bpmn_events),
        "typename": _WORKFLOW_TYPENAME,
    }


def _task_dict(task: Task, text) -> dict:
    """SpiffWorkflow's TaskConverter.to_dict, inlined: task data is stored as its change from the parent's."""
    parent = task.parent
    if parent is None:
        data, delta = task.data, {}
    else:
        before, after = parent.data, task.data
        data = {}
        delta = {"updates": {k: v for k, v in after.items() if k not in before or v != before[k]},
                 "deletions": [k for k in before if k not in after]}
    internal = task.internal_data
    return {
        "id": text(task.id),
        "parent": text(task._parent) if parent is not None else None,  # noqa: SLF001
        "children": [text(child) for child in task._children],  # noqa: SLF001
        "last_state_change": task.last_state_change,
        "state": task.state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": _REGISTRY.convert(internal) if internal else {},
        "data": data,
        "delta": delta,
        "typename": _TASK_TYPENAME,
    }


def _tasks_from_dict(tasks: dict, workflow) -> dict:
    """What SpiffWorkflow's mapping_from_dict(tasks, UUID) restores, with TaskConverter.from_dict inlined and
    each task id parsed once (it appears as an id, in its parent's children and as its children's parent)."""
    ids: dict[str, UUID] = {}

    def uid(text):
        value = ids.get(text)
        if value is None:
            value = ids[text] = UUID(text)
        return value

    specs, restore, restored = workflow.spec.task_specs, _REGISTRY.restore, {}
    top = workflow.top_workflow
    for key, dct in tasks.items():
        if dct.get("typename") != _TASK_TYPENAME:  # not a plain task: SpiffWorkflow's own way
            restored[uid(key)] = restore(dct, workflow=workflow)
            continue
        task_spec = specs.get(dct["task_spec"])
        task = _TASK_CLASS(workflow, task_spec, state=dct["state"], id=uid(dct["id"]))
        parent_id = dct["parent"]
        task._parent = uid(parent_id) if parent_id is not None else None  # noqa: SLF001
        task._children = [uid(child) for child in dct["children"]]  # noqa: SLF001
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        internal = dct["internal_data"]
        task.internal_data = restore(internal) if internal else {}
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            top.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = task.parent
        if delta and parent is not None:
            data = DeepMerge.merge({}, parent.data)
            updates = delta.get("updates", {})
            if updates:
                data.update(restore(updates))
            for name in delta.get("deletions", {}):
                if name in data:
                    del data[name]
        else:
            data = restore(dct["data"])
        task.data = data
        restored[uid(key)] = task
    return restored


def _id_texts(workflow):
    """str(uuid) for the workflow's task ids, remembered on the workflow: ids never change, str() is not free.
    (Keyed by the id's integer: hashing a UUID is a Python-level call.)"""
    cache = workflow.__dict__.setdefault("_alur_id_texts", {})

    def text(uid):
        value = cache.get(uid.int)
        if value is None:
            value = cache[uid.int] = str(uid)
        return value

    return text


def dismantle(workflow) -> None:
    """Break the reference cycles of a workflow nobody uses any more (a task refers to its workflow, which holds its
    tasks), so it is freed at once by reference counting instead of waiting for the cyclic garbage collector.

    A web worker keeps a few hundred workflows of about a thousand objects each: left to the collector, dropped
    ones pile up until a full collection, which walks every object the process holds (B3: about 100 ms each, with
    every thread of the worker stopped). Only for a workflow no one else holds: the cache's own entries, and a
    finished case's workflow once its last step has committed (services._keep_after_commit)."""
    for sub in list(getattr(workflow, "subprocesses", {}).values()):
        sub.__dict__.clear()
    if hasattr(workflow, "__dict__"):
        workflow.__dict__.clear()


class WorkflowCache:
    """The workflows committed steps left behind, per case, so the case's next step in this process loads nothing.

    An entry holds the case's `row_version` and deployment as of its commit: any later save anywhere (another
    process, an admin action) bumps `row_version`, so a stale entry is never used. `take` removes the entry: the
    caller owns the workflow, and only `put` after a successful commit brings it back, so a step that fails
    half-way (SpiffWorkflow leaves the tree half-advanced) never leaves its workflow behind. Bounded (LRU).
    """

    def __init__(self, size: int = 256):
        self._items: OrderedDict = OrderedDict()
        self._size, self._lock = size, Lock()
        self.hits = self.misses = 0

    def take(self, instance_id, row_version, deployment_id):
        with self._lock:
            entry = self._items.pop(instance_id, None)
            if entry is not None and entry[0] == row_version and entry[1] == deployment_id:
                self.hits += 1
                return entry[2]
            self.misses += 1
        if entry is not None:
            dismantle(entry[2])  # stale: the case moved on elsewhere
        return None

    def put(self, instance_id, row_version, deployment_id, workflow) -> None:
        dropped = []
        with self._lock:
            replaced = self._items.pop(instance_id, None)
            if replaced is not None and replaced[2] is not workflow:
                dropped.append(replaced[2])
            self._items[instance_id] = (row_version, deployment_id, workflow)
            while len(self._items) > self._size:
                dropped.append(self._items.popitem(last=False)[1][2])
        for old in dropped:
            dismantle(old)

    def clear(self) -> None:
        with self._lock:
            dropped = [entry[2] for entry in self._items.values()]
            self._items.clear()
        for old in dropped:
            dismantle(old)

    def __len__(self) -> int:
        return len(self._items)
