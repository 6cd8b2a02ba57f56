"""Use cases: each is one transaction through a unit of work, or changes nothing."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import replace

from SpiffWorkflow.exceptions import SpiffWorkflowException

import forms
from engine import calendar as working_calendar
from engine import diagrams, lanes, notify, permissions, runtime, timers, versions
from engine.clock import utcnow  # noqa: F401 - re-exported: callers use services.utcnow
from engine.errors import AlurError, DiagramInvalid, EngineError, FormInvalid, NotFound, NotPermitted
from engine.model import Attachment, AuditEvent, Deployment, Instance, Problem, WorkItem
from engine.worklist import holds, locked_ready_item

log = logging.getLogger("alur.timers")

# --- deploy -------------------------------------------------------------------------------------------------------

def lint(files, *, allow_non_executable=False) -> diagrams.LintReport:
    """Lint diagram files without storing anything."""
    return diagrams.lint(files, allow_non_executable=allow_non_executable)


def check(uow, files, *, allow_non_executable=False) -> diagrams.LintReport:
    """Lint, and warn about each lane whose role nobody active holds where the process would run."""
    report = diagrams.lint(files, allow_non_executable=allow_non_executable)
    if report.processes:
        with uow:
            report.problems.extend(_unknown_offices(uow, report))
            report.problems.extend(lanes.unheld_lanes(uow, report, diagrams.lines_of))
    return report


def _unknown_offices(uow, report) -> list[Problem]:
    problems = []
    for info in report.processes:
        code = info.properties.get("kantor")
        if code and uow.directory.office(code) is None:
            problems.append(Problem(report.sources[info.key][0], diagrams.lines_of(report, info.key).get(info.key),
                                    info.key, f"the process belongs to office '{code}' (its 'kantor' property), "
                                    "which is not set up in Alur; add the office first"))
    return problems


def deploy(uow, files, *, actor=None, office=None, note=None, allow_non_executable=False, clock=utcnow):
    """Lint and store each process as a new immutable version; identical bytes to the latest make none."""
    report = diagrams.lint(files, allow_non_executable=allow_non_executable)
    if not report.ok:
        raise DiagramInvalid(f"{len(report.errors)} problem(s) found; nothing was deployed", report.problems)
    results = []
    with uow:
        if isinstance(actor, str):  # a named user (web, `--as`); the command line's operator passes None
            permissions.require(uow, actor, permissions.may_deploy, "a deployer or an administrator")
        if office and uow.directory.office(office) is None:
            raise NotFound(f"Unknown office '{office}'.", office=office)
        for info in report.processes:
            filename, data = report.sources[info.key]
            spec, subprocess_specs = report.specs[info.key]
            companions = versions.companions(files, filename, subprocess_specs)
            sha = versions.content_hash(data, companions)
            uow.deployments.lock(info.key)
            latest = uow.deployments.latest(info.key)
            target_office = office or info.properties.get("kantor") or None
            if target_office and target_office != office and uow.directory.office(target_office) is None:
                raise NotFound(f"'{info.key}' belongs to office '{target_office}' (its 'kantor' property), which is "
                               "not set up in Alur; add the office first. Nothing was deployed.",
                               key=info.key, office=target_office)
            if latest and latest.sha256 == sha and latest.office == target_office:
                results.append((latest, False))
                continue
            deployment = Deployment(
                id=None, key=info.key, version=(latest.version + 1) if latest else 1, name=info.name,
                sha256=sha, filename=filename, xml=data, spec_json=runtime.spec_to_json(spec, subprocess_specs),
                steps=info.steps, office=target_office, deployed_by=actor, deployed_at=clock(), note=note,
                properties=info.properties, lanes=[name for _, name in info.lanes], start_lanes=info.start_lanes,
                start_form=info.start_form, main_path=info.main_path,
            )
            deployment.id = uow.deployments.add(deployment, companions)
            uow.audit.add(AuditEvent(None, deployment.deployed_at, actor, "deployment_created",
                                     data={"key": info.key, "version": deployment.version, "sha256": sha,
                                           "office": target_office, "note": note,
                                           "files": [name for name, _ in companions]}))
            results.append((deployment, True))
        uow.commit()
    return results, report


# --- run ----------------------------------------------------------------------------------------------------------

def _case_prefix(key: str, year: int) -> str:
    match = re.match(r"sop_(\d+)", key)
    code = f"SOP{match.group(1)[:12]}" if match else re.sub(r"[^A-Z0-9]", "", key.upper())[:12] or "KASUS"
    return f"{code}-{year}"


TIME_MODES = {"kerja": "working", "working": "working", "kalender": "elapsed", "elapsed": "elapsed", "24x7": "elapsed"}


def time_mode(office, deployment=None) -> str:
    """How durations count: the SOP's `mode_waktu` property (kerja | kalender) wins over the office's setting."""
    chosen = (deployment.properties.get("mode_waktu") or "").strip().lower() if deployment else ""
    return TIME_MODES.get(chosen) or (office.time_mode if office else "elapsed")


def due_time_for(uow, office_code, deployment=None):
    office = uow.directory.office(office_code) if office_code else None
    if office is None or time_mode(office, deployment) == "elapsed":
        return runtime.elapsed_due_time
    cal = uow.directory.office_calendar(office_code)
    return lambda start, iso: working_calendar.add_working_time(start, iso, cal)


def start(uow, key, *, actor, version=None, data=None, office=None, clock=utcnow) -> Instance:
    """Start a case of the current (or a named, not retired) version as `actor`."""
    with uow:
        deployment = _deployment_for_new_case(uow, key, version)
        roles = uow.directory.roles_of(actor)
        if office and deployment.office and office != deployment.office:
            raise NotPermitted(f"'{key}' is the SOP of office {deployment.office}; it cannot start in {office}.",
                               key=key, office=office)
        office = office or deployment.office or _sole_office(roles, actor)
        if uow.directory.office(office) is None:
            raise NotFound(f"Unknown office '{office}'.", office=office)
        starters = start_roles(uow, deployment)
        if starters and not any(holds(roles, office, role) for role in [*starters, "admin"]):
            raise NotPermitted(f"'{actor}' may not start '{key}' in office {office}: it needs the role "
                               f"{' or '.join(repr(x) for x in starters)}.", key=key)
        start_form = forms.form_for_start(list(deployment.start_form))
        data = _clean(start_form, data, None, None, key=key) if start_form else {}
        now = clock()
        spec, subprocess_specs = _specs(uow, deployment)
        workflow = runtime.new_workflow(spec, subprocess_specs, data)
        due_time = due_time_for(uow, office, deployment)
        # A new case has no rows yet: they are written as the change from nothing, without reading any back.
        snapshot = replace(_run_engine(lambda: runtime.advance(workflow, now, due_time)), before=runtime.NOTHING)
        prefix = _case_prefix(key, now.year)
        instance = Instance(
            id=None, deployment_id=deployment.id, key=key, version=deployment.version, office=office,
            number=f"~{uuid.uuid4().hex}", status="running",  # a stand-in no other transaction sees
            state=runtime.dump(workflow), serializer_version=runtime.SERIALIZER_VERSION, row_version=1,
            started_by=actor, started_at=now,
        )
        # The number's counter stays locked until the commit (numbers have no gaps), and every start of the SOP
        # this year waits for it: taken last, with the case's row, and the rest of the writes are sent in one round
        # trip with the COMMIT.
        instance.id, count = uow.instances.add_numbered(instance, prefix)
        instance.number = f"{prefix}-{count:04d}"
        with uow.deferring():
            uow.instances.set_number(instance.id, instance.number)
            uow.audit.add(AuditEvent(instance.id, now, actor, "instance_started",
                                     data={"key": key, "version": deployment.version, "number": instance.number,
                                           "data": data or {}}))
            if workflow.is_completed():  # a process with no human step ends at once
                _save(uow, instance, workflow, snapshot, deployment, now, actor)
            else:
                _keep_after_commit(uow, instance, workflow, snapshot)
                _sync(uow, instance, workflow, snapshot, deployment, now, actor)
        uow.commit()
    return instance


def _deployment_for_new_case(uow, key, version):
    """The version a new case starts on (versions.for_new_case), with the directory pinned as this transaction
    reads it: grants, offices, lane roles and holders then come from the process's cache. The current version and
    the directory's version are read in one round trip."""
    if version is None:
        deployment, directory_version = uow.deployments.current_with_directory_version(key)
        if deployment is not None:
            uow.directory.pin(directory_version)
            return deployment
    else:
        uow.directory.pin(uow.directory.version())
    return versions.for_new_case(uow, key, version)  # a version named, or why none is current


def start_roles(uow, deployment) -> list[str]:
    """The roles that may start a case: those doing the start event's lanes (none: anyone)."""
    if not deployment.start_lanes:
        return []
    mapping = uow.directory.lane_roles(deployment.key)
    return list(dict.fromkeys(lanes.role_of(mapping, lane) for lane in deployment.start_lanes))


def _sole_office(roles, actor) -> str:
    offices = {office for office, _ in roles if office}
    if len(offices) != 1:
        raise AlurError(f"Say which office the case belongs to: '{actor}' works in "
                        f"{', '.join(sorted(offices)) or 'no office'}.", user=actor)
    return offices.pop()


def _run_engine(step):
    """Run SpiffWorkflow; its errors become AlurErrors (the caller's transaction then rolls back)."""
    try:
        return step()
    except AlurError:
        raise
    except SpiffWorkflowException as err:
        raise EngineError(f"The process could not continue: {err}") from err


def _specs(uow, deployment):
    # Keyed by content, not row id: a spec depends only on the deployed bytes and the process key.
    return runtime.SPEC_CACHE.get((deployment.sha256, deployment.key),
                                  lambda: uow.deployments.spec_json(deployment.id))


def load_case(uow, instance):
    """A case's deployment and its workflow, loaded onto the cached spec."""
    deployment = uow.deployments.of_case(instance.deployment_id)
    return deployment, _load_state(uow, instance, deployment)


def _load_state(uow, instance, deployment):
    """The case's workflow: the one its last committed step in this process left behind, else deserialized."""
    workflow = uow.workflows.take(instance.id, instance.row_version, instance.deployment_id)
    if workflow is not None:
        return workflow
    spec, subprocess_specs = _specs(uow, deployment)
    return runtime.load(instance.state, spec, subprocess_specs)


def _keep_after_commit(uow, instance, workflow, snapshot) -> None:
    """Once the change commits, keep the workflow, with the snapshot its rows were written from, for the case's
    next step in this process."""
    if instance.status != "running":  # a finished case's workflow is used no more: freed at once (state.dismantle)
        uow.after_commit(lambda: runtime.dismantle(workflow))
        return
    row_version, deployment_id = instance.row_version, instance.deployment_id

    def keep():
        runtime.remember_rows(workflow, snapshot)
        uow.workflows.put(instance.id, row_version, deployment_id, workflow)

    uow.after_commit(keep)


def complete(uow, work_item_id, *, actor, data=None, files=None, store=None, clock=utcnow) -> Instance:
    """Complete a ready work item as `actor`, who must hold its lane's role in the case's office.

    `data` is what the step's form received (HTML fields or the CLI's JSON); it is validated against the form
    and only the form's fields reach the case. `files` maps file fields to IncomingFiles, kept in `store`.
    """
    stored = []
    try:
        with uow:
            instance, item = locked_ready_item(uow, work_item_id)
            _check_may_complete(uow, instance, item, actor)
            deployment = uow.deployments.of_case(instance.deployment_id)
            step = deployment.step(item.step_id)
            spec = forms.form_for_step(step.to_dict()) if step else forms.FormSpec((), True)
            cleaned = _clean(spec, data, files, store, step_id=item.step_id)
            now = clock()
            entered = _store_files(uow, store, spec, cleaned, files, instance, item, actor, now, stored)
            variables = {f.name: entered[f.name] for f in spec.fields if f.role in ("", "decision")
                         and f.name in entered}
            workflow = _load_state(uow, instance, deployment)
            due_time = due_time_for(uow, instance.office, deployment)
            snapshot = _run_engine(lambda: runtime.complete(workflow, work_item_id, variables, now, due_time))
            uow.audit.add(AuditEvent(instance.id, now, actor, "task_completed", step_id=item.step_id,
                                     data={"work_item": work_item_id, "name": item.step_name, "lane": item.lane,
                                           "data": entered}))
            _save(uow, instance, workflow, snapshot, deployment, now, actor, completed={work_item_id})
            uow.commit()
            stored.clear()
    finally:
        for attachment_id in stored:  # the transaction did not commit: its files must not linger
            store.delete(attachment_id)
    return instance


def _check_may_complete(uow, instance, item, actor) -> None:
    roles = uow.directory.roles_of(actor)
    if not holds(roles, instance.office, item.role):
        raise NotPermitted(f"'{actor}' does not hold the role '{item.role}' in office {instance.office}.",
                           work_item=item.id, step=item.step_id)
    if item.claimed_by and item.claimed_by != actor:
        raise NotPermitted(f"This step is claimed by {item.claimed_by}.", work_item=item.id)


def _clean(spec, data, files, store, **context) -> dict:
    uploads = {name: incoming.upload for name, incoming in (files or {}).items()}
    limits = {"max_bytes": store.max_bytes, "allowed": store.allowed} if store is not None else {}
    try:
        cleaned = forms.clean(spec, data or {}, uploads, **limits)
    except forms.FormErrors as err:
        problems = "; ".join(f"{_field_name(spec, name)}: {message}" for name, message in err.errors.items())
        raise FormInvalid(f"The form is not valid: {problems}", fields=err.errors, values=err.values,
                          **context) from err
    if store is None and any(f.type == "file" and f.name in cleaned for f in spec.fields):
        raise FormInvalid("Files cannot be attached here.", **context)
    return cleaned


def _field_name(spec, name) -> str:
    field = spec.field(name)
    if field is None or field.label == name:
        return name or "form"
    return f"{field.label} ({name})"


def _store_files(uow, store, spec, cleaned, files, instance, item, actor, now, stored) -> dict:
    """Keep each uploaded file and put a reference to it, not the file, into the entered data."""
    entered = dict(cleaned)
    for field in spec.fields:
        if field.type != "file" or field.name not in cleaned:
            continue
        upload = cleaned[field.name]
        attachment = Attachment(id=str(uuid.uuid4()), instance_id=instance.id,
                                work_item_id=item.id if item else None, field=field.name,
                                filename=forms.safe_filename(upload.filename),
                                content_type=forms.sniff(upload.head, upload.filename) or "application/octet-stream",
                                size=0, sha256="", uploaded_by=actor, uploaded_at=now)
        stored.append(attachment.id)
        attachment.size, attachment.sha256 = store.put(attachment.id, files[field.name].stream, field.name)
        uow.attachments.add(attachment)
        entered[field.name] = {"attachment": attachment.id, "filename": attachment.filename,
                               "size": attachment.size, "content_type": attachment.content_type}
    return entered


def _save(uow, instance, workflow, snapshot, deployment, now, actor, completed=frozenset()):
    if workflow.is_completed():
        instance.status, instance.ended_at = "completed", now
        uow.audit.add(AuditEvent(instance.id, now, actor, "instance_completed", data={"number": instance.number}))
        notify.case_completed(uow, instance, now)
    instance.state = runtime.dump(workflow)
    instance.serializer_version = runtime.SERIALIZER_VERSION
    uow.instances.save(instance)
    _keep_after_commit(uow, instance, workflow, snapshot)
    _sync(uow, instance, workflow, snapshot, deployment, now, actor, completed)


def sync_rows(uow, instance, workflow, snapshot, deployment, now, actor=None) -> None:
    """Rewrite a case's work-item and timer rows from its workflow (after it moved to another version)."""
    _sync(uow, instance, workflow, snapshot, deployment, now, actor)


def _sync(uow, instance, workflow, snapshot, deployment, now, actor, completed=frozenset()):
    """Rewrite the instance's work-item and timer rows from the workflow, so reads never deserialize."""
    if snapshot.before is not None:
        return _sync_change(uow, instance, workflow, snapshot, deployment, now, actor, completed)
    ready = {str(t.id): t for t in snapshot.ready}
    open_items = {w.id: w for w in uow.work_items.open_for_instance(instance.id)}
    for item_id, item in open_items.items():
        if item_id in ready:
            continue
        if item_id in completed:
            uow.work_items.update(replace(item, state="completed", completed_by=actor, completed_at=now))
        else:
            uow.work_items.update(replace(item, state="cancelled", completed_at=now))
    pending = {t.task_id: t for t in snapshot.timers}
    new_items = _new_items(uow, instance, snapshot, deployment, now, [t for i, t in ready.items()
                                                                      if i not in open_items])
    if new_items:
        uow.work_items.add_many(new_items)
        notify.steps_ready(uow, instance, new_items, now)
    timers.sync(uow, instance, workflow, deployment, pending, now)


def _sync_change(uow, instance, workflow, snapshot, deployment, now, actor, completed):
    """The rows were current before the step (snapshot.before): write only what the step changed, reading none.

    The writes wait for the commit, to go out with it (one round trip on PostgreSQL): none of them needs the answer
    of another. Only a timer that fired reads (its step's row, to flag it overdue): they go out before that read."""
    ready = {str(t.id): t for t in snapshot.ready}
    before = {str(t.id) for t in snapshot.before.ready}
    gone = before - ready.keys()
    new_items = _new_items(uow, instance, snapshot, deployment, now, [t for i, t in ready.items() if i not in before])
    if new_items:  # it reads (the holders), and defers its own writes (the e-mails)
        notify.steps_ready(uow, instance, new_items, now)
    with uow.deferring():
        if new_items:
            uow.work_items.add_many(new_items)
        if gone & completed:
            uow.work_items.close(sorted(gone & completed), "completed", now, actor)
        if gone - completed:
            uow.work_items.close(sorted(gone - completed), "cancelled", now)
        fired = timers.write_change(uow, instance, workflow, snapshot.before.timers, snapshot.timers)
    if fired:
        uow.flush()
        timers.record_fired(uow, instance, fired, deployment, now)


def _new_items(uow, instance, snapshot, deployment, now, tasks) -> list[WorkItem]:
    """Work-item rows for tasks that just became ready (the caller writes them)."""
    if not tasks:
        return []
    due_by_item = {t.work_item_id: t.due for t in snapshot.timers if t.work_item_id}
    mapping = uow.directory.lane_roles(deployment.key)
    items = []
    for task in tasks:
        task_id = str(task.id)
        step = deployment.step(task.task_spec.bpmn_id)
        lane = getattr(task.task_spec, "lane", None)
        items.append(WorkItem(
            id=task_id, instance_id=instance.id, process_key=instance.key, step_id=task.task_spec.bpmn_id,
            step_name=step.name if step else (task.task_spec.bpmn_name or task.task_spec.bpmn_id),
            lane=lane, role=lanes.role_of(mapping, lane), office=instance.office, state="ready", ready_at=now,
            due_at=due_by_item.get(task_id), suspended=instance.status == "suspended",
        ))
    return items


def fire_due_timers(uow_factory, *, clock=utcnow, limit=100) -> int:
    """Fire the first `limit` due timers, earliest first, one per transaction; safe with several workers at once.

    Each transaction claims the earliest of them whose case no other transaction holds, locking that case (SKIP
    LOCKED on PostgreSQL): workers sweeping the same due timers take different cases side by side instead of
    queueing behind each other. A timer that could not fire is logged and left for the next sweep.
    """
    with uow_factory(write=False) as uow:
        due = uow.timers.due(clock(), limit)
    if not due:
        return 0
    fired, passed, window = 0, set(), [due[0].due_at, due[-1].due_at]
    for _ in range(limit):
        outcome = _fire_one(uow_factory, window, passed, clock)
        if outcome is None:
            break
        fired += outcome
    return fired


def _fire_one(uow_factory, window, passed, clock) -> int | None:
    """Claim the earliest claimable timer due within `window` and not `passed`, and fire it: 1, or 0 when it could
    not (it joins `passed`); None when none is left to claim (the rest are held, fired or cancelled).

    The window then starts at the claimed timer's due time: what lies before it was fired, passed or held by
    another transaction, and the next sweep looks at those again."""
    timer = None
    try:
        with uow_factory() as uow:
            now = clock()  # each timer's own moment: what its audit event and e-mails say
            claimed = uow.timers.claim(*window, skip=passed)
            if claimed is None:
                return None
            timer, instance = claimed
            window[0] = timer.due_at
            if not any(t.id == timer.id and t.due_at <= now for t in uow.timers.waiting_for_instance(instance.id)):
                passed.add(timer.id)
                return 0  # fired, cancelled or moved by a transaction that committed since the claim's snapshot
            deployment, workflow = load_case(uow, instance)
            due_time = due_time_for(uow, instance.office, deployment)
            snapshot = _run_engine(lambda: runtime.fire_timer(workflow, timer.id, now, due_time))
            if snapshot is None:
                passed.add(timer.id)
                return 0
            _save(uow, instance, workflow, snapshot, deployment, now, None)
            uow.commit()
        return 1
    except AlurError as err:  # rolled back; one case's broken timer must not stop every other case's timers
        if timer is None:
            raise
        passed.add(timer.id)
        log.warning("A timer of case %s could not fire (event %s); it is tried again next round: %s",
                    timer.instance_id, timer.event_id, err)
        return 0


# --- read ---------------------------------------------------------------------------------------------------------

def work_for(uow, *, user=None, role=None) -> list[WorkItem]:
    """Ready work items: all, those of a role, or those whose role `user` holds in the item's office."""
    with uow:
        if user is None:
            return uow.work_items.ready(role=role)
        roles = uow.directory.roles_of(user)
        if not uow.directory.exists(user):
            raise NotFound(f"No user '{user}'.", user=user)
        return uow.work_items.ready(roles=roles, role=role)


def show(uow, instance_id) -> dict:
    """A case with its history, open work items and pending timers."""
    with uow:
        instance = uow.instances.get(instance_id)
        if instance is None:
            raise NotFound(f"No case '{instance_id}'.", instance=instance_id)
        return {
            "instance": instance,
            "history": uow.audit.for_instance(instance.id),
            "work_items": uow.work_items.for_instance(instance.id),
            "timers": uow.timers.waiting_for_instance(instance.id),
        }
