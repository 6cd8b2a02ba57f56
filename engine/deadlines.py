"""Office calendar edits and what they change: the deadlines of every open step of the office."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from engine import permissions, runtime, services
from engine.clock import utcnow
from engine.errors import AlurError, NotFound
from engine.model import AuditEvent
from engine.worklist import is_admin

KINDS = ("holiday", "workday")  # an extra day off for the office | a national holiday the office works on


def set_office_day(uow_factory, office, day: date, kind: str | None, *, actor=None, note=None, clock=utcnow) -> int:
    """Add (kind given) or clear (kind None) an office's calendar exception; returns how many deadlines moved."""
    if kind is not None and kind not in KINDS:
        raise AlurError(f"A calendar day is a 'holiday' or a 'workday', not '{kind}'.")
    with uow_factory() as uow:
        if uow.directory.office(office) is None:
            raise NotFound(f"Unknown office '{office}'.", office=office)
        if isinstance(actor, str):  # a named user; the command line's operator passes None
            permissions.require(uow, actor, lambda roles: is_admin(roles, office), f"an administrator of {office}")
        if kind is None:
            uow.directory.clear_office_day(office, day)
        else:
            uow.directory.set_office_day(office, day, kind, note)
        uow.audit.add(AuditEvent(None, clock(), actor, "office_calendar_changed",
                                 data={"office": office, "day": day.isoformat(), "kind": kind, "note": note}))
        uow.commit()
    return recompute(uow_factory, office, clock=clock)


def recompute(uow_factory, office, *, clock=utcnow) -> int:
    """Recompute the waiting SLA timers of the office's running cases on its current calendar."""
    moved = 0
    with uow_factory(write=False) as uow:
        instance_ids = uow.timers.waiting_instances(office)
    for instance_id in instance_ids:
        with uow_factory() as uow:
            instance = uow.instances.get(instance_id, lock=True)
            if instance is None or instance.status != "running":
                continue
            deployment, workflow = services.load_case(uow, instance)
            due_time = services.due_time_for(uow, instance.office, deployment)
            changed = runtime.restamp_timers(workflow, due_time)
            if not changed:
                continue
            instance.state = runtime.dump(workflow)
            uow.instances.save(instance)
            by_id = {t.task_id: t for t in changed}
            for timer in uow.timers.waiting_for_instance(instance.id):
                if timer.id in by_id:
                    uow.timers.update(replace(timer, due_at=by_id[timer.id].due))
            for pending in changed:
                item = uow.work_items.get(pending.work_item_id) if pending.work_item_id else None
                if item is not None and item.state == "ready":
                    uow.work_items.update(replace(item, due_at=pending.due, overdue=item.overdue))
            uow.audit.add(AuditEvent(instance.id, clock(), None, "deadlines_recomputed",
                                     data={"timers": [{"timer": p.task_id, "due_at": p.due.isoformat()}
                                                      for p in changed]}))
            uow.commit()
            moved += len(changed)
    return moved
