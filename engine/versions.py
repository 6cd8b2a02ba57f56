"""Versions of a deployed process: which one new cases use, retiring and restoring, and what changed between two."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePath

from engine import calendar as working_calendar
from engine import permissions, xml
from engine.clock import utcnow
from engine.errors import NotFound, NotPermitted
from engine.model import Deployment, Step

STEP_FIELDS = ("name", "lane", "sla", "kelengkapan", "output", "keterangan", "form", "decision")
GATEWAY_TAGS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway")


# --- who may ------------------------------------------------------------------------------------------------------

def _check_may_read(uow, viewer) -> None:
    roles = permissions.roles_for(uow, viewer)
    if roles is not None and not (permissions.may_model(roles) or permissions.is_admin(roles)):
        raise NotPermitted("Only analysts, deployers and administrators may see deployed versions.")


def _check_may_deploy(uow, actor) -> None:
    permissions.require(uow, actor, permissions.may_deploy, "a deployer or an admin")


# --- new cases ----------------------------------------------------------------------------------------------------

def for_new_case(uow, key, version=None) -> Deployment:
    """The version a new case starts on: the one named, or the newest not retired; a retired one is refused."""
    deployment = uow.deployments.by_version(key, version) if version else uow.deployments.current(key)
    if deployment is None and not version and uow.deployments.latest(key) is not None:
        raise NotPermitted(f"Every version of '{key}' is retired; no new case can start until a version is "
                           "restored or a new one is deployed.", key=key)
    if deployment is None:
        what = f"version {version} of '{key}'" if version else f"'{key}'"
        raise NotFound(f"No deployed process {what}; see `alur processes`.", key=key)
    if deployment.retired_at is not None:
        current = uow.deployments.current(key)
        instead = f"; new cases start on version {current.version}" if current else ", as is every version"
        raise NotPermitted(f"Version {version} of '{key}' is retired{instead}.", key=key, version=version)
    return deployment


def companions(files, own_filename, subprocess_specs) -> list[tuple[str, bytes]]:
    """The other deployed files defining a process this one calls: kept with the version, so it can be rebuilt."""
    wanted = set(subprocess_specs)
    found = []
    for filename, data in files:
        if filename == own_filename or not wanted:
            continue
        tree, _ = xml.parse(data)
        ids = {p.get("id") for p in tree.getroot().iter(xml.bpmn("process"))} if tree is not None else set()
        if ids & wanted:
            found.append((filename, data))
    return found


def content_hash(data: bytes, others=()) -> str:
    """SHA-256 of a diagram; with called processes' files, of all of them (the spec cache is keyed by it)."""
    digest = hashlib.sha256(data)
    if not others:
        return digest.hexdigest()
    for filename, other in others:
        digest.update(b"\0" + PurePath(filename).name.encode() + b"\0" + hashlib.sha256(other).digest())
    return digest.hexdigest()


# --- reading ------------------------------------------------------------------------------------------------------

@dataclass
class VersionInfo:
    deployment: Deployment
    running: int  # cases running or suspended
    total: int
    is_current: bool  # the version new cases start on


@dataclass
class ProcessSummary:
    key: str
    name: str
    office: str | None
    current_version: int | None  # newest not retired; None when every version is retired
    newest_version: int
    versions: int
    running: int


def processes(uow, *, viewer) -> list[ProcessSummary]:
    """Every deployed process with its current and newest version and its open cases."""
    with uow:
        _check_may_read(uow, viewer)
        counts = uow.deployments.case_counts()
        by_key: dict[str, list[Deployment]] = {}
        for deployment in uow.deployments.list():
            by_key.setdefault(deployment.key, []).append(deployment)
    result = []
    for key, deployments in by_key.items():
        newest = max(deployments, key=lambda d: d.version)
        current = max((d.version for d in deployments if d.retired_at is None), default=None)
        running = sum(counts.get(d.id, (0, 0))[0] for d in deployments)
        result.append(ProcessSummary(key, newest.name, newest.office, current, newest.version, len(deployments),
                                     running))
    return sorted(result, key=lambda p: (p.name.lower(), p.key))


def list_versions(uow, key, *, viewer) -> list[VersionInfo]:
    """Every version of a process, newest first, with its cases."""
    with uow:
        _check_may_read(uow, viewer)
        deployments = uow.deployments.versions(key)
        if not deployments:
            raise NotFound(f"No deployed process '{key}'.", key=key)
        counts = uow.deployments.case_counts(key)
        current = uow.deployments.current(key)
    return [VersionInfo(d, *counts.get(d.id, (0, 0)), is_current=current is not None and d.id == current.id)
            for d in deployments]


def _version(uow, key, version) -> Deployment:
    deployment = uow.deployments.by_version(key, version)
    if deployment is None:
        raise NotFound(f"No version {version} of '{key}'.", key=key, version=version)
    return deployment


def version_xml(uow, key, version, *, viewer) -> tuple[str, bytes]:
    """The file name and the original bytes of a version's diagram."""
    with uow:
        _check_may_read(uow, viewer)
        deployment = _version(uow, key, version)
        return PurePath(deployment.filename).name, uow.deployments.xml(deployment.id)


def version_files(uow, key, version, *, viewer) -> list[tuple[str, bytes]]:
    """Every file of a version: its own diagram first, then those deployed with it (called processes)."""
    with uow:
        _check_may_read(uow, viewer)
        deployment = _version(uow, key, version)
        own = (PurePath(deployment.filename).name, uow.deployments.xml(deployment.id))
        return [own, *((PurePath(name).name, data) for name, data in uow.deployments.files(deployment.id))]


# --- retiring -----------------------------------------------------------------------------------------------------

def retire(uow, key, version, *, actor, reason=None, clock=utcnow) -> Deployment:
    """Stop new cases from starting on a version; its running cases finish on it. Retiring twice changes nothing."""
    with uow:
        _check_may_deploy(uow, actor)
        deployment = _version(uow, key, version)
        if deployment.retired_at is None:
            now = clock()
            uow.deployments.retire(deployment.id, permissions.who(actor), now)
            permissions.audit(uow, actor, "deployment_retired", now, key=key, version=version, reason=reason)
            uow.commit()
            deployment.retired_at, deployment.retired_by = now, permissions.who(actor)
        return deployment


def restore(uow, key, version, *, actor, reason=None, clock=utcnow) -> Deployment:
    """Let new cases start on a retired version again (when it is the newest not retired)."""
    with uow:
        _check_may_deploy(uow, actor)
        deployment = _version(uow, key, version)
        if deployment.retired_at is not None:
            uow.deployments.restore(deployment.id)
            permissions.audit(uow, actor, "deployment_restored", clock(), key=key, version=version, reason=reason)
            uow.commit()
            deployment.retired_at = deployment.retired_by = None
        return deployment


# --- comparing ----------------------------------------------------------------------------------------------------

@dataclass
class VersionDiff:
    key: str
    old_version: int
    new_version: int
    steps_added: list[Step] = field(default_factory=list)
    steps_removed: list[Step] = field(default_factory=list)
    steps_changed: list[tuple[Step, Step, list[str]]] = field(default_factory=list)
    lanes_added: list[str] = field(default_factory=list)
    lanes_removed: list[str] = field(default_factory=list)
    gateways_added: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    gateways_removed: list[tuple[str, str]] = field(default_factory=list)
    gateways_changed: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (id, name, fields)
    old_total: str | None = None  # ISO duration: the main path's standard times added up
    new_total: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.steps_added or self.steps_removed or self.steps_changed or self.lanes_added
                    or self.lanes_removed or self.gateways_added or self.gateways_removed
                    or self.gateways_changed) and self.old_total == self.new_total

    def as_dict(self) -> dict:
        return {
            "key": self.key, "old_version": self.old_version, "new_version": self.new_version,
            "steps_added": [_step_dict(s) for s in self.steps_added],
            "steps_removed": [_step_dict(s) for s in self.steps_removed],
            "steps_changed": [{"id": new.id, "fields": fields, "old": _step_dict(old, fields),
                               "new": _step_dict(new, fields)} for old, new, fields in self.steps_changed],
            "lanes_added": self.lanes_added, "lanes_removed": self.lanes_removed,
            "gateways_added": [{"id": i, "name": n} for i, n in self.gateways_added],
            "gateways_removed": [{"id": i, "name": n} for i, n in self.gateways_removed],
            "gateways_changed": [{"id": i, "name": n, "fields": f} for i, n, f in self.gateways_changed],
            "old_total": self.old_total, "new_total": self.new_total, "empty": self.empty,
        }


def _step_dict(step: Step, fields=()) -> dict:
    values = {"id": step.id, "name": step.name, "lane": step.lane, "sla": step.sla}
    for name in fields:
        value = getattr(step, name)
        values[name] = value.as_dict() if name == "decision" and value else list(value) if name == "form" else value
    return values


def diff(uow, key, v1, v2, *, viewer) -> VersionDiff:
    """What changed from version v1 to version v2: steps, lanes, standard times and gateways."""
    with uow:
        _check_may_read(uow, viewer)
        old, new = _version(uow, key, v1), _version(uow, key, v2)
        old_xml, new_xml = uow.deployments.xml(old.id), uow.deployments.xml(new.id)
    result = VersionDiff(key, v1, v2, old_total=main_path_total(old), new_total=main_path_total(new))
    old_steps, new_steps = {s.id: s for s in old.steps}, {s.id: s for s in new.steps}
    result.steps_added = [s for s in new.steps if s.id not in old_steps]
    result.steps_removed = [s for s in old.steps if s.id not in new_steps]
    for step in new.steps:
        before = old_steps.get(step.id)
        fields = [f for f in STEP_FIELDS if before and getattr(before, f) != getattr(step, f)]
        if fields:
            result.steps_changed.append((before, step, fields))
    result.lanes_added = [lane for lane in new.lanes if lane not in old.lanes]
    result.lanes_removed = [lane for lane in old.lanes if lane not in new.lanes]
    old_gates, new_gates = _gateways(old_xml, key), _gateways(new_xml, key)
    result.gateways_added = [(g, new_gates[g]["name"]) for g in new_gates if g not in old_gates]
    result.gateways_removed = [(g, old_gates[g]["name"]) for g in old_gates if g not in new_gates]
    for gate_id, gate in new_gates.items():
        before = old_gates.get(gate_id)
        fields = [f for f in ("name", "type", "paths", "default") if before and before[f] != gate[f]]
        if fields:
            result.gateways_changed.append((gate_id, gate["name"], fields))
    return result


def main_path_total(deployment) -> str | None:
    """The main path's standard times added up (working days and time kept apart), as an ISO duration."""
    path = deployment.main_path or [s.id for s in deployment.steps]
    total, _ = working_calendar.total_standard_time(step.sla for step in map(deployment.step, path) if step)
    return str(total) if total else None


def _gateways(data: bytes, key: str) -> dict[str, dict]:
    """Gateways of the process `key`: name, type, where each path leads and on what condition, default path."""
    tree, _ = xml.parse(data)
    if tree is None:
        return {}
    proc = next((p for p in tree.getroot().iter(xml.bpmn("process")) if p.get("id") == key), None)
    if proc is None:
        return {}
    flows = list(proc.iter(xml.bpmn("sequenceFlow")))
    gateways = {}
    for node in proc.iter(*(xml.bpmn(tag) for tag in GATEWAY_TAGS)):
        gate_id = node.get("id")
        paths = set()
        for flow in flows:
            if flow.get("sourceRef") == gate_id:
                condition = flow.find(xml.bpmn("conditionExpression"))
                paths.add((flow.get("targetRef"), " ".join((condition.text or "").split())
                           if condition is not None else ""))
        default = next((f.get("targetRef") for f in flows if f.get("id") == node.get("default")), None)
        gateways[gate_id] = {"name": " ".join((node.get("name") or "").split()), "type": xml.local(node.tag),
                             "paths": paths, "default": default}
    return gateways
