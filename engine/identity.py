"""What an administrator manages: users, role grants and offices; with who may do what, and lane roles."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import forms
from engine import calendar as working_calendar
from engine.clock import utcnow
from engine.errors import FormInvalid, NotFound, NotPermitted
from engine.lanes import LaneRole, lane_roles, role_of, set_lane_role, unheld_lanes  # noqa: F401 - re-exported
from engine.model import AuditEvent
from engine.passwords import hash_password
from engine.permissions import (  # noqa: F401 - re-exported: callers import permissions from here
    ADMIN,
    ANALYST,
    DEPLOYER,
    OPERATOR,
    SYSTEM_ROLES,
    audit,
    is_admin,
    is_global_admin,
    may_deploy,
    may_model,
    require_any_admin,
    require_global_admin,
    roles_for,
    who,
)
from engine.worklist import holds
from forms.model import REQUIRED, TOO_LONG, TOO_SHORT

MIN_PASSWORD = 8
TIME_MODES = ("working", "elapsed")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
OFFICE_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
N_ = forms.N_
USERNAME_FORMAT = N_("Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.")
RESERVED_USERNAMES = {"baru"}  # /kelola/pengguna/baru is the page that creates users
USERNAME_TAKEN = N_("This username is taken already.")
EMAIL_FORMAT = N_("This is not an e-mail address; write it like name@example.go.id.")
UNKNOWN_OFFICE = N_("There is no office '{office}'.")
OFFICE_CODE_FORMAT = N_("Use 1 to 32 letters, digits, '_' or '-'.")
TIMEZONE = N_("Enter a time zone such as Asia/Jakarta, Asia/Makassar or Asia/Jayapura.")
TIME_MODE = N_("Choose working time or elapsed time.")
SCHEDULE = N_("Working hours: {reason}")


def _invalid(message: str, values=None, **fields):
    return FormInvalid(message, fields=fields, values=values)


def _message(template, **params) -> forms.Message:
    return forms.Message(template, params)


# --- users --------------------------------------------------------------------------------------------------------

@dataclass
class UserView:
    username: str
    full_name: str
    email: str | None
    active: bool
    grants: list[tuple[str | None, str]]  # (office or None for every office, role)
    notifications: bool = True
    deactivated_at: datetime | None = None


def _view(row, grants) -> UserView:
    return UserView(row.username, row.full_name or "", row.email, bool(row.active), list(grants),
                    bool(getattr(row, "email_notifications", True)), getattr(row, "deactivated_at", None))


def users(uow, *, actor) -> list[UserView]:
    """Every user with their grants (kept while inactive), for an admin."""
    with uow:
        require_any_admin(uow, actor)
        return [_view(row, grants) for row, grants in uow.directory.users()]


def user(uow, username, *, actor) -> UserView:
    """One user with their grants, for an admin; NotFound when there is none."""
    with uow:
        require_any_admin(uow, actor)
        return _existing(uow, username)


def _existing(uow, username) -> UserView:
    found = uow.directory.users(username)
    if not found:
        raise NotFound(f"No user '{username}'.", user=username)
    return _view(*found[0])


def check_password(password) -> forms.Message | None:
    """Why a new password is refused, or None."""
    if not password or len(password) < MIN_PASSWORD:
        return _message(TOO_SHORT, min=MIN_PASSWORD)
    return None


def check_email(email) -> forms.Message | None:
    """Why an e-mail address is refused, or None (no address is fine: the user gets no e-mail)."""
    name, at, domain = (email or "").partition("@")
    if email and (not name or not at or not domain or "@" in domain or any(c.isspace() for c in email)
                  or len(email) > 200):
        return _message(EMAIL_FORMAT)
    return None


def create_user(uow, *, actor, username, full_name, email, password, clock=utcnow) -> UserView:
    """Add an active user without grants; a global admin's task."""
    username, full_name, email = (username or "").strip(), (full_name or "").strip(), (email or "").strip() or None
    values = {"username": username, "full_name": full_name, "email": email or ""}
    with uow:
        require_global_admin(uow, actor)
        problems = {}
        if not USERNAME_RE.match(username):
            problems["username"] = _message(USERNAME_FORMAT)
        elif username.lower() in RESERVED_USERNAMES or uow.directory.user(username) is not None:
            problems["username"] = _message(USERNAME_TAKEN)
        if len(full_name) > 200:
            problems["full_name"] = _message(TOO_LONG, max=200)
        if email_problem := check_email(email):
            problems["email"] = email_problem
        if password_problem := check_password(password):
            problems["password"] = password_problem
        if problems:
            raise _invalid(f"The user was not added: {_summary(problems)}", values, **problems)
        now = clock()
        uow.directory.add_user(username, hash_password(password), full_name or username, email, now)
        audit(uow, actor, "user_created", now, username=username, full_name=full_name or username, email=email)
        view = _existing(uow, username)
        uow.commit()
    return view


def _summary(problems) -> str:
    return "; ".join(f"{name}: {message}" for name, message in problems.items())


def set_active(uow, username, active: bool, *, actor, clock=utcnow) -> UserView:
    """Deactivate (at once: no roles, no login, their claimed steps back to the role) or reactivate a user."""
    with uow:
        require_global_admin(uow, actor)
        current = _existing(uow, username)
        if not active and username == who(actor):
            raise NotPermitted("You cannot deactivate your own account.", user=username)
        if current.active == bool(active):
            return current
        now = clock()
        uow.directory.set_active(username, bool(active), now)
        released = [] if active else _release_claims(uow, username, actor, now)
        audit(uow, actor, "user_reactivated" if active else "user_deactivated", now, username=username,
              **({} if active else {"released": released}))
        view = _existing(uow, username)
        uow.commit()
    return view


def _release_claims(uow, username, actor, now) -> list[str]:
    """Give the steps an account had claimed back to every holder of their role, each case locked."""
    released = []
    for stale in uow.work_items.claimed_by(username):
        instance = uow.instances.get(stale.instance_id, lock=True)
        item = uow.work_items.get(stale.id)  # re-read under the case's lock
        if instance is None or item.state != "ready" or item.claimed_by != username:
            continue
        uow.work_items.update(replace(item, claimed_by=None, claimed_at=None))
        uow.audit.add(AuditEvent(instance.id, now, who(actor), "task_released", step_id=item.step_id,
                                 data={"work_item": item.id, "name": item.step_name, "claimed_by": username,
                                       "reason": "user_deactivated"}))
        released.append(item.id)
    return released


def reset_password(uow, username, new_password, *, actor, clock=utcnow) -> None:
    """Set a new password, ending the user's open sessions; a global admin's task."""
    with uow:
        require_global_admin(uow, actor)
        _existing(uow, username)
        problem = check_password(new_password)
        if problem:
            raise _invalid(f"The password was not changed: {problem}", password=problem)
        now = clock()
        uow.directory.set_password(username, hash_password(new_password))
        audit(uow, actor, "password_reset", now, username=username)
        uow.commit()


def _check_grant(uow, actor, username, role, office) -> tuple[str, str | None]:
    role, office = (role or "").strip(), (office or "").strip() or None
    values = {"role": role, "office": office or ""}
    if not role or len(role) > 200:
        message = _message(REQUIRED if not role else TOO_LONG, max=200)
        raise _invalid(f"Name the role: {message}", values, role=message)
    if office and uow.directory.office(office) is None:
        raise _invalid(f"Unknown office '{office}'.", values, office=_message(UNKNOWN_OFFICE, office=office))
    roles = roles_for(uow, actor)
    office_admin = office and holds(roles or set(), office, ADMIN) and role not in SYSTEM_ROLES
    if roles is not None and not is_global_admin(roles) and not office_admin:
        raise NotPermitted("An office admin grants and revokes roles of their own office only, and not "
                           f"{', '.join(SYSTEM_ROLES)}.", user=who(actor), office=office, role=role)
    if uow.directory.user(username) is None:
        raise NotFound(f"No user '{username}'.", user=username)
    return role, office


def grant(uow, username, role, office, *, actor, clock=utcnow) -> bool:
    """Give `username` the role in `office` (None: every office); False when held already."""
    with uow:
        role, office = _check_grant(uow, actor, username, role, office)
        new = uow.directory.grant(username, role, office)
        if new:
            audit(uow, actor, "role_granted", clock(), username=username, role=role, office=office)
            uow.commit()
    return new


def revoke(uow, username, role, office, *, actor, clock=utcnow) -> bool:
    """Take the role in `office` (None: the every-office grant) from `username`; False when not held."""
    with uow:
        role, office = _check_grant(uow, actor, username, role, office)
        if username == who(actor) and role == ADMIN:
            raise NotPermitted("You cannot take admin from yourself; ask another admin.", user=username)
        gone = uow.directory.revoke(username, role, office)
        if gone:
            audit(uow, actor, "role_revoked", clock(), username=username, role=role, office=office)
            uow.commit()
    return gone


# --- offices ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _OfficeRow:
    code: str
    name: str
    timezone: str
    time_mode: str


@dataclass(frozen=True)
class OfficeSaved:
    office: object  # the directory's Office, as saved
    created: bool
    calendar_changed: bool  # time zone, counting or hours moved: call deadlines.recompute for open steps


def offices(uow, *, actor) -> list:
    """Every office with its time zone, counting (working | elapsed) and hours (schedule text or None)."""
    with uow:
        require_any_admin(uow, actor)
        return uow.directory.offices()


def save_office(uow, *, actor, code, name, timezone, time_mode, schedule, clock=utcnow) -> OfficeSaved:
    """Create or update an office; an empty schedule means the national working hours."""
    code, name, timezone = (code or "").strip(), (name or "").strip(), (timezone or "").strip()
    schedule_text, time_mode = (schedule or "").strip(), (time_mode or "").strip()
    values = {"code": code, "name": name, "timezone": timezone, "time_mode": time_mode, "schedule": schedule_text}
    with uow:
        require_global_admin(uow, actor)
        schedule_text = _check_office(values)
        before = uow.directory.office(code)
        uow.directory.add_office(_OfficeRow(code, name, timezone, time_mode))
        uow.directory.set_schedule(code, schedule_text)
        saved = uow.directory.office(code)
        changed = before is not None and (before.timezone, before.time_mode, before.schedule) != (
            timezone, time_mode, schedule_text)
        audit(uow, actor, "office_saved", clock(), code=code, name=name, timezone=timezone, time_mode=time_mode,
              schedule=schedule_text, created=before is None)
        uow.commit()
    return OfficeSaved(saved, before is None, changed)


def _check_office(values) -> str | None:
    """The schedule as stored (None: national hours), or FormInvalid naming every bad field."""
    problems, schedule = {}, None
    if not OFFICE_CODE_RE.match(values["code"]):
        problems["code"] = _message(OFFICE_CODE_FORMAT)
    if not values["name"] or len(values["name"]) > 200:
        problems["name"] = _message(REQUIRED if not values["name"] else TOO_LONG, max=200)
    if not _is_timezone(values["timezone"]):
        problems["timezone"] = _message(TIMEZONE)
    if values["time_mode"] not in TIME_MODES:
        problems["time_mode"] = _message(TIME_MODE)
    try:
        if values["schedule"]:
            schedule = working_calendar.format_schedule(working_calendar.parse_schedule(values["schedule"]))
    except ValueError as err:
        problems["schedule"] = _message(SCHEDULE, reason=str(err))
    if problems:
        raise _invalid(f"The office was not saved: {_summary(problems)}", values, **problems)
    return schedule


def _is_timezone(name) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
