"""Moving running cases from one version of a process to another, when nothing they did or do would be lost."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from engine import expressions, lanes, permissions, runtime, services
from engine.clock import utcnow
from engine.errors import AlurError, NotFound
from engine.model import AuditEvent, Instance

# SpiffWorkflow compares task specs through their serialized form; the spec serializer's registry gives it.
REGISTRY = BpmnWorkflowSerializer().registry
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE
KINDS = {"NoneTask": "task", "BoundaryEvent": "timer",
         "CallActivity": "called process", "SubWorkflowTask": "subprocess"}


@dataclass
class CasePlan:
    instance: Instance
    movable: bool
    reasons: list[str] = field(default_factory=list)  # why it cannot move, naming the step
    changes: list[str] = field(default_factory=list)  # what moving changes for this case


@dataclass
class MigrationPlan:
    key: str
    from_version: int
    to_version: int
    cases: list[CasePlan]
    moved: list[int]  # ids of the cases moved (empty on a dry run)
    dry_run: bool

    @property
    def movable(self) -> list[CasePlan]:
        return [c for c in self.cases if c.movable]

    @property
    def blocked(self) -> list[CasePlan]:
        return [c for c in self.cases if not c.movable]


def _versions(uow, key, actor, from_version, to_version):
    permissions.require_global_admin(uow, actor)
    if from_version == to_version:
        raise AlurError(f"Choose two different versions of '{key}' to move cases between.", key=key)
    old, new = uow.deployments.by_version(key, from_version), uow.deployments.by_version(key, to_version)
    for version, deployment in ((from_version, old), (to_version, new)):
        if deployment is None:
            raise NotFound(f"No version {version} of '{key}'.", key=key, version=version)
    if new.retired_at is not None:
        raise AlurError(f"Version {to_version} of '{key}' is retired; restore it before moving cases onto it.",
                        key=key, version=to_version)
    return old, new


def _open_cases(uow, deployment) -> list[int]:
    return [i.id for i in uow.instances.list() if i.deployment_id == deployment.id
            and i.status in ("running", "suspended")]


def plan(uow, key, from_version, to_version, *, actor, clock=utcnow) -> MigrationPlan:
    """Which open cases of one version could move to another, and why the others cannot; writes nothing."""
    with uow:
        old, new = _versions(uow, key, actor, from_version, to_version)
        cases = [_evaluate(uow, uow.instances.get(i), old, new, clock())[0] for i in _open_cases(uow, old)]
    return MigrationPlan(key, from_version, to_version, cases, [], True)


def migrate(uow_factory, key, from_version, to_version, *, actor, dry_run=False, clock=utcnow) -> MigrationPlan:
    """Move every case that can move, each in its own transaction with the case locked and checked again."""
    if dry_run:
        return plan(uow_factory(write=False), key, from_version, to_version, actor=actor, clock=clock)
    with uow_factory(write=False) as uow:
        old, new = _versions(uow, key, actor, from_version, to_version)
        candidates = _open_cases(uow, old)
    result = MigrationPlan(key, from_version, to_version, [], [], False)
    for instance_id in candidates:
        with uow_factory() as uow:
            instance = uow.instances.get(instance_id, lock=True)
            if instance is None or instance.deployment_id != old.id or instance.status not in ("running",
                                                                                              "suspended"):
                continue  # it ended or was moved meanwhile
            now = clock()
            case, moved = _evaluate(uow, instance, old, new, now)
            if case.movable:
                try:
                    _save(uow, instance, new, moved, case.changes, now, permissions.who(actor))
                    uow.commit()
                    result.moved.append(instance.id)
                except AlurError as err:
                    case = CasePlan(case.instance, False, [f"The case could not be saved: {err.message}"])
            result.cases.append(case)
    return result


# --- one case -----------------------------------------------------------------------------------------------------

@dataclass
class _Moved:
    workflow: object
    snapshot: runtime.Snapshot
    due_by_item: dict  # ready work item id -> its new due time


def _evaluate(uow, instance, old, new, now) -> tuple[CasePlan, _Moved | None]:
    """Try the move on a loaded copy of the case; nothing is written."""
    if instance.status != "running":
        return CasePlan(instance, False, [f"Case {instance.number} is {instance.status}; resume it first."]), None
    spec, subprocess_specs = runtime.SPEC_CACHE.get((new.sha256, new.key), lambda: uow.deployments.spec_json(new.id))
    try:
        _, workflow = services.load_case(uow, instance)
        reasons = _blockers(workflow, spec, subprocess_specs, old, new)
        if reasons:
            return CasePlan(instance, False, reasons), None
        before = _open_steps(workflow, old)
        moved = _move(uow, instance, workflow, spec, subprocess_specs, new, now)
    except Exception as err:  # noqa: BLE001 - whatever the engine makes of an odd case, that case stays put
        message = err.message if isinstance(err, AlurError) else f"{type(err).__name__}: {err}"
        return CasePlan(instance, False, [f"The engine could not move the case: {message}"]), None
    return CasePlan(instance, True, [], _changes(before, _open_steps(workflow, new))), moved


def _blockers(workflow, spec, subprocess_specs, old, new) -> list[str]:
    """The safe rule: nothing done or under way is dropped, no called process is missing, no open step changes type."""
    top, sub_diffs = diff_workflow(REGISTRY, workflow, spec, subprocess_specs)
    reasons = []
    for sub_id, sub_diff in sub_diffs.items():
        if sub_diff is None:
            name = workflow.subprocesses[sub_id].spec.name
            reasons.append(f"The called process '{name}' this case is running is not part of version "
                           f"{new.version}.")
    lost: dict[str, tuple[str, str | None]] = {}  # element id -> (reason, the step a boundary event is on)
    for wdiff in [top, *(d for d in sub_diffs.values() if d is not None)]:
        for task in wdiff.removed:
            if task.state & PREDICTED:
                continue
            element = _element_id(task.task_spec)
            under_way = bool(task.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED))
            if element not in lost or under_way:
                lost[element] = (_removed_reason(task, element, under_way, old, new), _owner(task))
        for task, target in wdiff.alignment.items():
            if task.state & (TaskState.READY | TaskState.WAITING) and target is not None:
                reason = _open_task_reason(task, target, wdiff.alignment, old, new)
                if reason:
                    reasons.append(reason)
    return reasons + [reason for element, (reason, owner) in lost.items() if owner in (None, element)
                      or owner not in lost]


def _open_task_reason(task, target, alignment, old, new) -> str | None:
    """Why an open task cannot carry on in the new version: it changed type, or it is entered another way."""
    label = _upper(_label(task.task_spec, old))
    if type(target) is not type(task.task_spec):
        return (f"{label}, where the case is now, is a {_kind(target)} in version {new.version}, not a "
                f"{_kind(task.task_spec)}.")
    parent = alignment.get(task.parent) if task.parent is not None else None
    if task.parent is not None and (parent is None or parent.name not in {s.name for s in target.inputs}):
        # E.g. a standard time added to the step the case waits on: the engine would never reach its split.
        return (f"{label}, where the case is now, is entered differently in version {new.version} (for example "
                f"it gained a standard time); let the case finish this step on version {old.version} first.")
    return None


def _element_id(task_spec) -> str:
    # Engine-made specs (a step's boundary split and join) carry the step's id before a dot.
    return task_spec.bpmn_id or re.split(r"[.\s]", task_spec.name, maxsplit=1)[0]


def _owner(task) -> str | None:
    # A boundary event hangs under its step's split: a reason about the step covers its timer.
    split = task.parent.task_spec.name if task.parent is not None else ""
    return split.removesuffix(".BoundaryEventSplit") if split.endswith(".BoundaryEventSplit") else None


def _kind(task_spec) -> str:
    name = type(task_spec).__name__
    return KINDS.get(name) or re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def _label(task_spec, deployment, element=None) -> str:
    element = element or _element_id(task_spec)
    step = deployment.step(element)
    name = step.name if step else (task_spec.bpmn_name or "").strip()
    kind = "step" if step else _kind(task_spec)
    return f"{kind} '{name}' ({element})" if name else f"{kind} {element}"


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _removed_reason(task, element, under_way, old, new) -> str:
    where = "where the case is now" if under_way else "which the case has already passed"
    return f"{_upper(_label(task.task_spec, old, element))}, {where}, is not in version {new.version}."


def _step_name(task, deployment) -> str:
    step = deployment.step(task.task_spec.bpmn_id)
    return step.name if step else (task.task_spec.bpmn_name or task.task_spec.bpmn_id or task.task_spec.name)


def _open_steps(workflow, deployment) -> dict:
    """Open human steps by task id: (name, lane, standard time of their waiting deadline)."""
    durations = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        stamp = task.internal_data.get("alur_due")
        watched = next((str(t.id) for t in (task.parent.children if task.parent else [])
                        if t is not task and t.task_spec.manual), None)  # the step a boundary timer watches
        if isinstance(stamp, dict) and watched:
            durations[watched] = stamp["duration"]
    return {str(t.id): (_step_name(t, deployment), getattr(t.task_spec, "lane", None), durations.get(str(t.id)))
            for t in runtime.ready_human_tasks(workflow)}


def _changes(before: dict, after: dict) -> list[str]:
    """What moving changes for the case's open steps, in plain words."""
    changes = []
    for task_id, (name, lane, sla) in before.items():
        if task_id not in after:
            changes.append(f"step '{name}' is no longer open")
            continue
        new_name, new_lane, new_sla = after[task_id]
        if new_name != name:
            changes.append(f"step '{name}': name → '{new_name}'")
        if new_lane != lane:
            changes.append(f"step '{name}': lane '{lane}' → '{new_lane}'")
        if new_sla != sla:
            changes.append(f"step '{name}': standard time {sla or 'none'} → {new_sla or 'none'}")
    changes += [f"step '{name}' is now open" for task_id, (name, _, _) in after.items() if task_id not in before]
    return changes


def _move(uow, instance, workflow, spec, subprocess_specs, new, now) -> _Moved:
    """Put the workflow on the new specs, keeping each waiting deadline's start, and run the engine on."""
    stamps = {task.id: dict(task.internal_data) for task in workflow.get_tasks(state=TaskState.WAITING)}
    top, sub_diffs = diff_workflow(REGISTRY, workflow, spec, subprocess_specs)
    migrate_workflow(top, workflow, spec)
    for sub_id, sub_diff in sub_diffs.items():
        sub = workflow.subprocesses[sub_id]
        migrate_workflow(sub_diff, sub, subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = subprocess_specs
    _restore_stamps(workflow, stamps)
    due_time = services.due_time_for(uow, instance.office, new)
    restamped = runtime.restamp_timers(workflow, due_time)
    snapshot = runtime.advance(workflow, now, due_time)
    runtime.load(runtime.dump(workflow), spec, subprocess_specs)  # it must load on the new version
    due_by_item = {t.work_item_id: t.due for t in [*restamped, *snapshot.timers] if t.work_item_id}
    return _Moved(workflow, snapshot, due_by_item)


def _restore_stamps(workflow, stamps) -> None:
    """A reset timer restarts its clock; give it back its start, with the duration the new version sets."""
    for task_id, data in stamps.items():
        try:
            task = workflow.get_task_from_id(task_id)  # also finds tasks inside called processes
        except TaskNotFoundException:
            continue  # dropped with a branch the new version predicts afresh
        if task.state != TaskState.WAITING:
            continue
        stamp = data.get("alur_due")
        event = getattr(task.task_spec, "event_definition", None)
        if isinstance(stamp, dict) and event is not None:
            duration = expressions.evaluate_timer(event.expression, task.data)
            if duration.upper().startswith("P"):
                task.internal_data["alur_due"] = {"start": stamp["start"], "duration": duration}
                continue
        task.internal_data.update(data)


def _save(uow, instance, new, moved: _Moved, changes, now: datetime, actor) -> None:
    old_version = instance.version
    instance.deployment_id, instance.version = new.id, new.version
    instance.state = runtime.dump(moved.workflow)
    instance.serializer_version = runtime.SERIALIZER_VERSION
    uow.instances.save(instance)
    services.sync_rows(uow, instance, moved.workflow, moved.snapshot, new, now, actor)
    mapping = uow.directory.lane_roles(new.key)
    ready = {str(t.id): t for t in moved.snapshot.ready}
    for item in uow.work_items.open_for_instance(instance.id):
        task = ready.get(item.id)
        if task is None:
            continue
        lane = getattr(task.task_spec, "lane", None)
        uow.work_items.update(replace(
            item, step_id=task.task_spec.bpmn_id, step_name=_step_name(task, new), lane=lane,
            role=lanes.role_of(mapping, lane), due_at=moved.due_by_item.get(item.id, item.due_at)))
    uow.audit.add(AuditEvent(instance.id, now, actor, "instance_migrated",
                             data={"from": old_version, "to": new.version, "changes": changes}))
