"""Which role does the work of each lane of an SOP, and who holds it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import forms
from engine.clock import utcnow
from engine.errors import FormInvalid, NotFound
from engine.model import Problem
from engine.permissions import audit, is_admin, may_model, require, require_global_admin
from forms.model import TOO_LONG

UNKNOWN_LANE = forms.N_("The process has no lane '{lane}'; its lanes are: {lanes}.")


@dataclass
class LaneRole:
    lane: str
    role: str
    default: bool  # the role is named like the lane
    holders: dict[str, int] = field(default_factory=dict)  # office -> active users holding the role there
    unheld: bool = False  # nobody active holds the role in any office the SOP runs in


def role_of(mapping: dict, lane: str | None) -> str | None:
    """The role that does a lane's work: the mapped one, or the one named like the lane."""
    return mapping.get(lane, lane) if lane else lane


def _deployment(uow, key):
    current = getattr(uow.deployments, "current", None)
    deployment = (current(key) if current else None) or uow.deployments.latest(key)
    if deployment is None:
        raise NotFound(f"No deployed process '{key}'.", key=key)
    return deployment


def _holders(uow, roles, offices) -> dict[str, dict[str, int]]:
    """role -> office -> how many active users hold it there (an every-office grant counts in each)."""
    people: dict[tuple[str, str | None], set] = {}
    for role, office, username in uow.directory.role_grants(roles):
        people.setdefault((role, office), set()).add(username)
    return {role: {o: len(people.get((role, o), set()) | people.get((role, None), set())) for o in offices}
            for role in roles}


def _offices_for(uow, office) -> list[str]:
    return [office] if office else [o.code for o in uow.directory.offices()]


def _lane_roles(uow, deployment) -> list[LaneRole]:
    mapping = uow.directory.lane_roles(deployment.key)
    lanes = list(dict.fromkeys(lane for lane in deployment.lanes if lane))
    roles = {lane: role_of(mapping, lane) for lane in lanes}
    counts = _holders(uow, set(roles.values()), _offices_for(uow, deployment.office))
    return [LaneRole(lane, roles[lane], roles[lane] == lane, counts[roles[lane]],
                     not any(counts[roles[lane]].values())) for lane in lanes]


def lane_roles(uow, key, *, actor) -> list[LaneRole]:
    """The lanes of an SOP's current version, the role doing each, and how many hold it per office."""
    with uow:
        require(uow, actor, lambda roles: is_admin(roles) or may_model(roles), "an administrator or an analyst")
        return _lane_roles(uow, _deployment(uow, key))


def set_lane_role(uow, key, lane, role, *, actor, clock=utcnow) -> LaneRole:
    """Let `role` do the work of a lane (empty: the role named like the lane), for new steps and the waiting ones."""
    lane, role = (lane or "").strip(), (role or "").strip()
    with uow:
        require_global_admin(uow, actor)
        deployment = _deployment(uow, key)
        lanes = [name for name in deployment.lanes if name]
        if lane not in lanes:
            message = forms.Message(UNKNOWN_LANE, {"lane": lane, "lanes": ", ".join(lanes) or "-"})
            raise FormInvalid(str(message), fields={"lane": message}, values={"lane": lane, "role": role})
        if len(role) > 200:
            message = forms.Message(TOO_LONG, {"max": 200})
            raise FormInvalid(f"The role was not set: {message}", fields={"role": message},
                              values={"lane": lane, "role": role})
        previous = role_of(uow.directory.lane_roles(key), lane)
        role = role or lane
        uow.directory.set_lane_role(key, lane, None if role == lane else role)
        moved = _move_waiting_steps(uow, key, lane, role) if role != previous else 0
        if role != previous:
            audit(uow, actor, "lane_role_changed", clock(), key=key, lane=lane, role=role, previous=previous,
                  moved=moved)
        [result] = [r for r in _lane_roles(uow, deployment) if r.lane == lane]
        uow.commit()
    return result


def _move_waiting_steps(uow, key, lane, role) -> int:
    """Steps of the lane already waiting go to the new role too: the old one may be held by nobody."""
    moved = 0
    for instance in uow.instances.list():
        if instance.key != key or instance.status not in ("running", "suspended"):
            continue
        items = [w for w in uow.work_items.open_for_instance(instance.id) if w.lane == lane and w.role != role]
        if not items:
            continue
        uow.instances.get(instance.id, lock=True)
        for item in uow.work_items.open_for_instance(instance.id):
            if item.lane == lane and item.role != role:
                uow.work_items.update(replace(item, role=role))
                moved += 1
    return moved


def unheld_lanes(uow, report, lines_of) -> list[Problem]:
    """A warning per lane of the linted processes whose role nobody active holds where the SOP would run."""
    problems = []
    for info in report.processes:
        deployed = uow.deployments.latest(info.key)
        office = info.properties.get("kantor") or (deployed.office if deployed else None)
        mapping = uow.directory.lane_roles(info.key)
        working = {step.lane for step in info.steps} | set(info.start_lanes)
        lanes = [(lane_id, name) for lane_id, name in info.lanes if name and name in working]
        offices = _offices_for(uow, office)
        counts = _holders(uow, {role_of(mapping, name) for _, name in lanes}, offices)
        filename = report.sources[info.key][0]
        lines = None
        for lane_id, name in lanes:
            role = role_of(mapping, name)
            if any(counts[role].values()):
                continue
            lines = lines if lines is not None else lines_of(report, info.key)
            where = f"office {office}" if office else "any office"
            via = f"the role '{role}'" if role == name else f"the role '{role}' (mapped from the lane)"
            problems.append(Problem(filename, lines.get(lane_id), lane_id,
                                    f"nobody active holds {via} in {where}, so the steps of lane '{name}' would "
                                    "wait in no one's inbox; grant the role or map the lane to a held role",
                                    "warning"))
    return problems
