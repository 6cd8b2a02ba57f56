"""What the pages of a case show, each read checked against who is asking."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import forms
from engine import calendar as working_calendar
from engine.clock import utcnow
from engine.errors import NotFound, NotPermitted
from engine.lanes import role_of
from engine.model import Attachment, AuditEvent, Deployment, Instance, Timer, WorkItem
from engine.worklist import holds, is_admin, may_see_case


@dataclass
class Progress:
    """Steps of the main path done, and time used against the SOP's standard time."""

    done: int
    total: int
    standard: str | None  # ISO duration of the main path's standard times added up
    deadline: datetime | None  # when the whole case should be done
    used: float | None  # share of the standard time used so far (1.0 = all of it)


@dataclass
class CaseView:
    instance: Instance
    deployment: Deployment
    timezone: str
    history: list[AuditEvent]
    work_items: list[WorkItem]
    timers: list[Timer]
    attachments: list[Attachment]
    progress: Progress | None  # None on a task page, which does not show it
    markers: dict[str, str] = field(default_factory=dict)  # step id -> done | active | overdue
    may_administer: bool = False  # the viewer is an admin of the case's office: suspend, resume, cancel


@dataclass
class TaskView:
    item: WorkItem
    case: CaseView
    step: object
    form: forms.FormSpec
    may_complete: bool
    may_claim: bool
    may_release: bool
    may_reassign: bool


def _case_roles(deployment, mapping) -> list[str]:
    """The roles that see a case: its lanes' roles and the supervisor roles its SLA breaches are reported to."""
    supervisors = [value.strip() for name, value in deployment.properties.items()
                   if (name == "supervisor" or name.startswith("supervisor_")) and value and value.strip()]
    return [*(role_of(mapping, lane) for lane in deployment.lanes), *supervisors]


def outside(roles, office) -> bool:
    """Whether `office` lies outside every grant of the viewer (none there, none for every office).

    Cases, steps and attachments of such an office are answered exactly like ids that do not exist, so that no id
    of another office is revealed; a viewer of the same office without the right role is refused (403).
    """
    return not any(granted is None or granted == office for granted, _ in roles)


def missing_case(instance_id) -> NotFound:
    return NotFound(f"No case '{instance_id}'.", instance=instance_id)


def missing_item(work_item_id) -> NotFound:
    return NotFound(f"No work item '{work_item_id}'.", work_item=work_item_id)


def check_not_hidden(uow, *, viewer, work_item_id=None, instance_id=None, roles=None) -> None:
    """Before an action on a step or a case: NotFound, word for word as for an id that does not exist, when it
    does not exist or belongs to an office outside the viewer's grants. The use case checks the rest as before.

    `roles`, when given, are the viewer's grants as read earlier in the same request (the web UI's current user);
    else they are read here."""
    with uow:
        roles = uow.directory.roles_of(viewer) if roles is None else roles
        if work_item_id is not None:
            item = uow.work_items.get(work_item_id)
            if item is None or outside(roles, item.office):
                raise missing_item(work_item_id)
        if instance_id is not None:
            instance = uow.instances.get(instance_id)
            if instance is None or outside(roles, instance.office):
                raise missing_case(instance_id)


def _check_may_see(uow, roles, instance, deployment, viewer, missing: NotFound) -> None:
    """Refuse unless the viewer may see the case (or started it); the message names neither case nor office.

    A viewer with no grant in the case's office gets `missing`, what an id that does not exist gets."""
    lanes = _case_roles(deployment, uow.directory.lane_roles(deployment.key))
    if not (may_see_case(roles, instance, lanes) or instance.started_by == viewer and roles):
        if outside(roles, instance.office):
            raise missing
        raise NotPermitted("You do not have access to this case.")


def _case(uow, instance_id, viewer, clock, roles=None, *, whole=True, instance=None) -> CaseView:
    """The case as its page shows it; `whole=False`: what a task page shows of it (no timers, attachments or
    progress: those stay empty). `instance`: the case's header when the caller read it already."""
    if instance is None:
        instance = uow.instances.get_header(instance_id)  # the pages never show the workflow state
    if instance is None:
        raise missing_case(instance_id)
    # What a version deployed never changes, so it is read once per process (only retired_at may be stale: no page
    # of a case shows it).
    deployment = uow.deployments.of_case(instance.deployment_id)
    roles = uow.directory.roles_of(viewer) if roles is None else roles
    _check_may_see(uow, roles, instance, deployment, viewer, missing_case(instance_id))
    office = uow.directory.office(instance.office)
    work_items = uow.work_items.for_instance(instance.id)
    view = CaseView(
        instance=instance, deployment=deployment, timezone=office.timezone if office else "Asia/Jakarta",
        history=uow.audit.for_instance(instance.id), work_items=work_items,
        timers=uow.timers.waiting_for_instance(instance.id) if whole else [],
        attachments=uow.attachments.for_instance(instance.id) if whole else [],
        progress=_progress(instance, deployment, work_items, office, clock()) if whole else None,
    )
    view.markers = _markers(work_items, clock())
    view.may_administer = is_admin(roles, instance.office)
    return view


def _markers(work_items, now) -> dict[str, str]:
    markers = {}
    for item in work_items:
        if item.state == "completed":
            markers.setdefault(item.step_id, "done")
        elif item.state == "ready":
            late = item.overdue or (item.due_at is not None and item.due_at <= now)
            markers[item.step_id] = "overdue" if late else "active"
    return markers


def _progress(instance, deployment, work_items, office, now) -> Progress:
    done_steps = {w.step_id for w in work_items if w.state == "completed"}
    path = deployment.main_path or [s.id for s in deployment.steps]
    total, _ = working_calendar.total_standard_time(step.sla for step in map(deployment.step, path) if step)
    done = sum(1 for step_id in path if step_id in done_steps)
    if not total:
        return Progress(done, len(path), None, None, None)
    end = instance.ended_at or now
    if office is None or office.time_mode == "elapsed":
        deadline = instance.started_at + _elapsed(total)
        used = (end - instance.started_at).total_seconds() / max((deadline - instance.started_at).total_seconds(), 1)
    else:
        cal = working_calendar.OfficeCalendar(timezone=office.timezone)
        deadline = working_calendar.add_working_time(instance.started_at, total, cal)
        budget = working_calendar.working_seconds_between(instance.started_at, deadline, cal)
        used = working_calendar.working_seconds_between(instance.started_at, end, cal) / max(budget, 1)
    return Progress(done, len(path), str(total), deadline, used)


def _elapsed(duration):
    return timedelta(days=duration.days, seconds=duration.seconds)


def case_view(uow, instance_id, *, viewer, clock=utcnow, roles=None) -> CaseView:
    """A case as `viewer` may see it: an admin of its office or a holder of one of its lanes' roles there.

    `roles`: the viewer's grants when the caller has just read them (as check_not_hidden)."""
    with uow:
        return _case(uow, instance_id, viewer, clock, roles)


def task_view(uow, work_item_id, *, viewer, clock=utcnow, roles=None) -> TaskView:
    """A work item with its step, form and case, for a holder of its role (or an admin of its office).

    `roles`: the viewer's grants when the caller has just read them (as check_not_hidden)."""
    with uow:
        found = uow.instances.get_header_with_item(work_item_id)  # the step and its case in one query
        if found is None:
            raise missing_item(work_item_id)
        instance, item = found
        roles = uow.directory.roles_of(viewer) if roles is None else roles
        admin = is_admin(roles, item.office)
        if not (holds(roles, item.office, item.role) or admin):
            if outside(roles, item.office):
                raise missing_item(work_item_id)
            raise NotPermitted("You do not hold the role of this step.")
        case = _case(uow, item.instance_id, viewer, clock, roles, whole=False, instance=instance)
        step = case.deployment.step(item.step_id)
        ready = item.state == "ready" and case.instance.status == "running"
        mine_or_free = item.claimed_by in (None, viewer)
        return TaskView(
            item=item, case=case, step=step,
            form=forms.form_for_step(step.to_dict()) if step else forms.FormSpec((), True),
            may_complete=ready and mine_or_free and holds(roles, item.office, item.role),
            may_claim=ready and item.claimed_by is None and holds(roles, item.office, item.role),
            may_release=ready and item.claimed_by is not None and (item.claimed_by == viewer or admin),
            may_reassign=ready and admin,
        )


def attachment_for(uow, attachment_id, *, viewer) -> Attachment:
    """An attachment's record, for whoever may see its case."""
    with uow:
        attachment = uow.attachments.get(attachment_id)
        if attachment is None:
            raise NotFound(f"No attachment '{attachment_id}'.", attachment=attachment_id)
        instance = uow.instances.get(attachment.instance_id)
        deployment = uow.deployments.get(instance.deployment_id)
        roles = uow.directory.roles_of(viewer)
        _check_may_see(uow, roles, instance, deployment, viewer,
                       NotFound(f"No attachment '{attachment_id}'.", attachment=attachment_id))
        return attachment


def diagram_xml(uow, instance_id, *, viewer) -> bytes:
    """The BPMN XML a case runs on, for whoever may see the case."""
    with uow:
        view = _case(uow, instance_id, viewer, utcnow)
        return uow.deployments.xml(view.deployment.id)


@dataclass(frozen=True)
class Startable:
    deployment: Deployment
    offices: list[str]  # where the user may start it


def startable(uow, *, viewer) -> list[Startable]:
    """The current version (newest not retired) of each SOP the user may start, and in which offices."""
    with uow:
        roles = uow.directory.roles_of(viewer)
        all_offices = [o.code for o in uow.directory.offices()]
        result = []
        for deployment in uow.deployments.current_all():
            candidates = [deployment.office] if deployment.office else all_offices
            mapping = uow.directory.lane_roles(deployment.key)
            lanes = ([*(role_of(mapping, lane) for lane in deployment.start_lanes), "admin"]
                     if deployment.start_lanes else None)
            offices = [o for o in candidates if lanes is None or any(holds(roles, o, lane) for lane in lanes)]
            if offices and roles:
                result.append(Startable(deployment, offices))
        return result  # by key
