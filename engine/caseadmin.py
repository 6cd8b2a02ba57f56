"""An office admin's hold on a case: suspend it, resume it, or cancel it, always saying why."""

from __future__ import annotations

from dataclasses import replace

import forms
from engine.clock import utcnow
from engine.errors import FormInvalid, NotFound, NotPermitted, TaskNotReady
from engine.model import AuditEvent, Instance
from engine.worklist import is_admin
from forms.model import REQUIRED, TOO_LONG

MAX_REASON = 1000
# action -> (the statuses it starts from, the status it leaves, the audit event, what the case then was)
ACTIONS = {
    "suspend": (("running",), "suspended", "instance_suspended", "suspended"),
    "resume": (("suspended",), "running", "instance_resumed", "resumed"),
    "cancel": (("running", "suspended"), "cancelled", "instance_cancelled", "cancelled"),
}


def may_administer(roles, instance) -> bool:
    """An admin of the case's office (or of every office) suspends, resumes, cancels and reassigns."""
    return is_admin(roles, instance.office)


def suspend(uow, instance_id, *, actor, reason, clock=utcnow) -> Instance:
    """Hold a running case: its steps leave the inboxes and its timers wait until it is resumed."""
    return _change(uow, instance_id, "suspend", actor, reason, clock)


def resume(uow, instance_id, *, actor, reason, clock=utcnow) -> Instance:
    """Let a suspended case go on; timers that fell due meanwhile fire on the next sweep."""
    return _change(uow, instance_id, "resume", actor, reason, clock)


def cancel(uow, instance_id, *, actor, reason, clock=utcnow) -> Instance:
    """End a running or suspended case for good: its open steps and timers are cancelled."""
    return _change(uow, instance_id, "cancel", actor, reason, clock)


def _reason(text) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        message = forms.Message(REQUIRED)
        raise FormInvalid(f"Give a reason: {message}", fields={"reason": message}, values={"reason": ""})
    if len(reason) > MAX_REASON:
        message = forms.Message(TOO_LONG, {"max": MAX_REASON})
        raise FormInvalid(f"The reason is too long: {message}", fields={"reason": message},
                          values={"reason": text})
    return reason


def _change(uow, instance_id, action, actor, reason, clock) -> Instance:
    sources, status, event, done = ACTIONS[action]
    reason = _reason(reason)
    with uow:
        instance = uow.instances.get(instance_id, lock=True)
        if instance is None:
            raise NotFound(f"No case '{instance_id}'.", instance=instance_id)
        if not may_administer(uow.directory.roles_of(actor), instance):
            raise NotPermitted(f"Only an admin of office {instance.office} may {action} case {instance.number}.",
                               instance=instance.id)
        if instance.status not in sources:
            raise TaskNotReady(f"Case {instance.number} is {instance.status}; only a case that is "
                               f"{' or '.join(sources)} can be {done}.", instance=instance.id, status=instance.status)
        now = clock()
        instance.status = status
        if action == "cancel":
            instance.ended_at = now
            _cancel_open_work(uow, instance, now)
        else:  # its ready items leave the inboxes, or rejoin them
            uow.work_items.set_suspended(instance.id, status == "suspended")
        uow.instances.save(instance)
        uow.audit.add(AuditEvent(instance.id, now, actor, event, data={"reason": reason, "number": instance.number}))
        uow.commit()
    return instance


def _cancel_open_work(uow, instance, now) -> None:
    for item in uow.work_items.open_for_instance(instance.id):
        uow.work_items.update(replace(item, state="cancelled", completed_at=now))
    for timer in uow.timers.waiting_for_instance(instance.id):
        uow.timers.update(replace(timer, state="cancelled"))


def cases(uow, *, actor, key=None, status=None, office=None, limit=500) -> tuple[list[Instance], int, list[str]]:
    """Newest first, the cases of the offices `actor` administers, filtered; how many matched; those offices."""
    with uow:
        roles = uow.directory.roles_of(actor)
        offices = [o.code for o in uow.directory.offices() if is_admin(roles, o.code)]
        if not offices:
            raise NotPermitted("Only an administrator may list cases.", user=actor)
        wanted = [office] if office in offices else offices if office is None else []
        found, total = uow.instances.search(key=key, status=status, offices=wanted, limit=limit)
        return found, total, offices
