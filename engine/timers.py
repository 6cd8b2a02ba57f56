"""Timer rows: kept in step with the workflow after every change, and what a fired timer records."""

from __future__ import annotations

from dataclasses import replace

from SpiffWorkflow.util.task import TaskState

from engine import notify, runtime
from engine.model import AuditEvent, Timer


def sync(uow, instance, workflow, deployment, pending, now) -> None:
    """Rewrite a case's timer rows from its pending timers; those gone since fired or were cancelled."""
    known = set()
    for timer in uow.timers.waiting_for_instance(instance.id):
        if timer.id in pending:
            known.add(timer.id)
            if pending[timer.id].due != timer.due_at:
                uow.timers.update(replace(timer, due_at=pending[timer.id].due))
            continue
        task = runtime.get_task(workflow, timer.id)
        fired = task is not None and task.state == TaskState.COMPLETED
        uow.timers.update(replace(timer, state="fired" if fired else "cancelled"))
        if fired:
            _record_fired(uow, instance, timer, deployment, now)
    for task_id, timer in pending.items():
        if task_id not in known:
            uow.timers.add(Timer(id=task_id, instance_id=instance.id, event_id=timer.event_id,
                                 work_item_id=timer.work_item_id, kind="sla" if timer.work_item_id else "timer",
                                 due_at=timer.due))


def write_change(uow, instance, workflow, before, after) -> list[Timer]:
    """The timer rows showed `before` (PendingTimers): write what changed to make them show `after`, reading
    nothing; the rows of the timers that fired, for record_fired."""
    pending = {t.task_id: t for t in after}
    fired, cancelled = [], []
    for old in before:
        new = pending.pop(old.task_id, None)
        if new is not None:
            if new.due != old.due:
                uow.timers.set_due(old.task_id, new.due)
            continue
        task = runtime.get_task(workflow, old.task_id)
        row = Timer(id=old.task_id, instance_id=instance.id, event_id=old.event_id, work_item_id=old.work_item_id,
                    kind="sla" if old.work_item_id else "timer", due_at=old.due)
        (fired if task is not None and task.state == TaskState.COMPLETED else cancelled).append(row)
    if fired:
        uow.timers.close([t.id for t in fired], "fired")
    if cancelled:
        uow.timers.close([t.id for t in cancelled], "cancelled")
    if pending:
        uow.timers.add_many([Timer(id=t.task_id, instance_id=instance.id, event_id=t.event_id,
                                   work_item_id=t.work_item_id, kind="sla" if t.work_item_id else "timer",
                                   due_at=t.due) for t in pending.values()])
    return fired


def record_fired(uow, instance, fired, deployment, now) -> None:
    """The audit events, overdue flags and e-mail of timers that fired."""
    for timer in fired:
        _record_fired(uow, instance, timer, deployment, now)


def _record_fired(uow, instance, timer, deployment, now):
    uow.audit.add(AuditEvent(instance.id, now, None, "timer_fired", step_id=timer.event_id,
                             data={"timer": timer.id, "due_at": timer.due_at.isoformat(), "kind": timer.kind}))
    if timer.kind != "sla" or not timer.work_item_id:
        return
    item = uow.work_items.get(timer.work_item_id)
    if item is None:
        return
    step = deployment.step(item.step_id)
    uow.audit.add(AuditEvent(instance.id, now, None, "sla_breached", step_id=item.step_id,
                             data={"work_item": item.id, "name": item.step_name, "sla": step.sla if step else None,
                                   "due_at": timer.due_at.isoformat()}))
    if item.state == "ready":
        item = replace(item, overdue=True)
        uow.work_items.update(item)
        notify.sla_breached(uow, instance, item, step, now)
