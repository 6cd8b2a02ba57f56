"""SQL repositories of people and files: offices, users, role grants, login attempts, attachments."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from threading import Lock

from sqlalchemy import bindparam, delete, func, insert, or_, select, update

from adapters import reads
from adapters import tables as t
from engine.calendar import NATIONAL_SCHEDULE, OfficeCalendar, parse_schedule
from engine.model import Attachment, Contact


@dataclass(frozen=True)
class Office:
    code: str
    name: str
    timezone: str
    time_mode: str
    schedule: str | None = None  # working hours as parse_schedule reads them; None: the national schedule


def _office(row) -> Office:
    return Office(row.code, row.name, row.timezone, row.time_mode, row.schedule)


class Attachments:
    def __init__(self, conn):
        self.conn = conn

    def add(self, a: Attachment) -> None:
        self.conn.execute(insert(t.attachments).values(**asdict(a)))

    def get(self, attachment_id: str) -> Attachment | None:
        row = self.conn.execute(select(t.attachments).where(t.attachments.c.id == attachment_id)).first()
        return Attachment(**{f: getattr(row, f) for f in Attachment.__dataclass_fields__}) if row else None

    def for_instance(self, instance_id: int) -> list[Attachment]:
        rows = self.conn.execute(select(t.attachments).where(t.attachments.c.instance_id == instance_id)
                                 .order_by(t.attachments.c.uploaded_at))
        return [Attachment(**{f: getattr(r, f) for f in Attachment.__dataclass_fields__}) for r in rows]


# Read on every step, so built once (building a SQLAlchemy expression costs more than running it on SQLite).
_OFFICE = select(t.offices).where(t.offices.c.code == bindparam("code"))
_OFFICES = select(t.offices).order_by(t.offices.c.code)
_VERSION = select(t.counters.c.value).where(t.counters.c.name == "directory")
_USER_GRANTS = (select(t.users.c.active, t.user_roles.c.office, t.user_roles.c.role)
                .select_from(t.users.outerjoin(t.user_roles, t.user_roles.c.username == t.users.c.username))
                .where(t.users.c.username == bindparam("username")))
_LANE_ROLES = select(t.lane_roles.c.lane, t.lane_roles.c.role).where(t.lane_roles.c.key == bindparam("key"))
_HOLDERS_AND_CONTACTS = (
    select(t.user_roles.c.role, t.users.c.username, t.users.c.full_name, t.users.c.email,
           t.users.c.email_notifications)
    .join_from(t.user_roles, t.users, t.users.c.username == t.user_roles.c.username)
    .where(t.user_roles.c.role.in_(bindparam("roles", expanding=True)),
           or_(t.user_roles.c.office == bindparam("office"), t.user_roles.c.office.is_(None)),
           t.users.c.active.is_(True))
    .order_by(t.users.c.username))


# Run at every request of the web UI (webui/auth.py), so built once.
# The session, its account and grants, and the marks the request's caches are checked against (read in the same
# statement, so in the same snapshot): the directory's version (DirectoryCache) and the deployments' count and
# highest id (Deployments.names). Every request runs this query first, so the marks cost no round trip of their own.
_SESSION_USER = (
    select(t.sessions.c.created_at, t.sessions.c.last_seen_at, t.users.c.username, t.users.c.full_name,
           t.users.c.active, t.users.c.language, t.user_roles.c.office.label("grant_office"),
           t.user_roles.c.role.label("grant_role"),
           select(t.counters.c.value).where(t.counters.c.name == "directory").scalar_subquery()
           .label("directory_version"),
           select(func.count()).select_from(t.deployments).scalar_subquery().label("deployments_count"),
           select(func.max(t.deployments.c.id)).scalar_subquery().label("deployments_max"))
    .join_from(t.sessions, t.users, t.users.c.username == t.sessions.c.username)
    .outerjoin(t.user_roles, t.user_roles.c.username == t.sessions.c.username)
    .where(t.sessions.c.id_hash == bindparam("id_hash")))


@dataclass(frozen=True)
class CacheMarks:
    """What a request's reads may take from the process's caches, as read with its session (Directory.session_user):
    the directory's version (DirectoryCache) and (number of versions, highest id) of the deployments
    (Deployments.names)."""

    directory_version: int | None
    deployments: tuple[int, int | None]

    @classmethod
    def of(cls, row) -> CacheMarks:
        return cls(row.directory_version, (int(row.deployments_count or 0), row.deployments_max))


class DirectoryCache:
    """What steps read from the directory, kept per process and database as of one directory version.

    The database bumps `counters.directory` whenever offices, office days, users, grants or lane roles change
    (triggers, migration 0009), in the changing transaction. A step reads the version together with its lock
    (Instances.lock_item) and pins it (Directory.pin): its reads of grants, offices, calendars, lane roles and
    holders then come from here while the version stands, and are read afresh, in every process, once it moves.
    An entry read by a transaction that saw an older version than the cache holds is not kept."""

    def __init__(self, size: int = 4096):
        self._lock = Lock()
        self._version, self._entries, self._size = None, {}, size
        self.hits = self.misses = 0

    def get(self, version: int, key, load):
        with self._lock:
            if version == self._version and key in self._entries:
                self.hits += 1
                return self._entries[key]
            self.misses += 1
        value = load()
        with self._lock:
            if self._version is None or version > self._version:
                self._version, self._entries = version, {}
            if version == self._version and len(self._entries) < self._size:
                self._entries[key] = value
        return value


class Directory:
    """Offices, users and role grants.

    After pin(version), the reads a step or a page makes (office, offices, office_calendar, roles_of, lane_roles,
    holders_and_contacts) come from the process's DirectoryCache while that version stands. Only transactions
    that do not change the directory pin."""

    def __init__(self, conn, cache: DirectoryCache | None = None):
        self.conn, self._cache, self._version = conn, cache, None

    def pin(self, version: int | None) -> None:
        """Read through the process's cache as of `version` of the directory (read in this transaction)."""
        self._version = version

    def version(self) -> int | None:
        """The directory's version now (None when the database has no counter for it)."""
        found = reads.first(self.conn, _VERSION, {})
        return found[0] if found else None

    def _cached(self, key, load):
        if self._version is None or self._cache is None:
            return load()
        return self._cache.get(self._version, key, load)

    def office(self, code):
        return self._cached(("office", code), lambda: self._office(code))

    def _office(self, code):
        row = self.conn.execute(_OFFICE, {"code": code}).first() if code else None
        return _office(row) if row else None

    def offices(self):
        return list(self._cached(("offices",), lambda: [_office(r) for r in self.conn.execute(_OFFICES)]))

    def add_office(self, office: Office) -> None:
        existing = self.office(office.code)
        values = dict(name=office.name, timezone=office.timezone, time_mode=office.time_mode)
        if existing:
            self.conn.execute(update(t.offices).where(t.offices.c.code == office.code).values(**values))
        else:
            self.conn.execute(insert(t.offices).values(code=office.code, **values))

    def office_days(self, code) -> list:
        """The office's calendar exceptions, by day: (day, kind holiday|workday, note)."""
        c = t.office_days.c
        return list(self.conn.execute(select(c.day, c.kind, c.note).where(c.office == code).order_by(c.day)))

    def set_office_day(self, code, day, kind, note) -> None:
        self.clear_office_day(code, day)
        self.conn.execute(insert(t.office_days).values(office=code, day=day, kind=kind, note=note))

    def clear_office_day(self, code, day) -> None:
        c = t.office_days.c
        self.conn.execute(t.office_days.delete().where(c.office == code, c.day == day))

    def set_schedule(self, code, schedule_text) -> None:
        self.conn.execute(update(t.offices).where(t.offices.c.code == code).values(schedule=schedule_text))

    def office_calendar(self, code) -> OfficeCalendar | None:
        """The office's working calendar: its time zone and hours, national holidays and its own exceptions."""
        return self._cached(("calendar", code), lambda: self._office_calendar(code))

    def _office_calendar(self, code) -> OfficeCalendar | None:
        row = self.conn.execute(select(t.offices).where(t.offices.c.code == code)).first() if code else None
        if row is None:
            return None
        days = self.office_days(code)
        return OfficeCalendar(
            timezone=row.timezone,
            schedule=parse_schedule(row.schedule) if row.schedule else NATIONAL_SCHEDULE,
            added_holidays=frozenset(d.day for d in days if d.kind == "holiday"),
            removed_holidays=frozenset(d.day for d in days if d.kind == "workday"),
            mode=row.time_mode,
        )

    def user(self, username):
        return self.conn.execute(select(t.users).where(t.users.c.username == username)).first()

    def exists(self, username) -> bool:
        return self.user(username) is not None

    def add_user(self, username, password_hash, full_name, email, now) -> None:
        self.conn.execute(insert(t.users).values(username=username, password_hash=password_hash,
                                                 full_name=full_name, email=email, active=True, created_at=now))

    def set_password(self, username, password_hash) -> None:
        """A new password: every open session of the account ends with the old one."""
        self.conn.execute(update(t.users).where(t.users.c.username == username)
                          .values(password_hash=password_hash))
        self.end_sessions(username)

    def upgrade_password_hash(self, username, old_hash, new_hash) -> bool:
        """The same password hashed with stronger parameters; sessions go on. False when it changed meanwhile."""
        c = t.users.c
        result = self.conn.execute(update(t.users).where(c.username == username, c.password_hash == old_hash)
                                   .values(password_hash=new_hash))
        return result.rowcount > 0

    def set_active(self, username, active: bool, now) -> None:
        """Deactivate (recording when, and ending its sessions) or reactivate an account; grants are kept."""
        self.conn.execute(update(t.users).where(t.users.c.username == username)
                          .values(active=active, deactivated_at=None if active else now))
        if not active:
            self.end_sessions(username)

    # Sessions of logged-in browsers, by the SHA-256 of the random id their cookie carries.

    def add_session(self, id_hash, username, now) -> None:
        self.conn.execute(insert(t.sessions).values(id_hash=id_hash, username=username, created_at=now,
                                                    last_seen_at=now))

    def session(self, id_hash):
        """The session row (username, created_at, last_seen_at), or None when it ended or never existed."""
        return self.conn.execute(select(t.sessions).where(t.sessions.c.id_hash == id_hash)).first()

    def session_user(self, id_hash):
        """A session with its account and the account's grants, in one query (the web UI asks at every request):
        (session row, account row, {(office, role)}), or None when the session ended or never existed."""
        rows = reads.rows(self.conn, _SESSION_USER, {"id_hash": id_hash})
        if not rows:
            return None
        grants = {(row.grant_office, row.grant_role) for row in rows if row.grant_role is not None}
        return rows[0], rows[0], grants

    def touch_session(self, id_hash, now) -> None:
        self.conn.execute(update(t.sessions).where(t.sessions.c.id_hash == id_hash).values(last_seen_at=now))

    def end_session(self, id_hash) -> None:
        self.conn.execute(delete(t.sessions).where(t.sessions.c.id_hash == id_hash))

    def end_sessions(self, username, keep=None) -> int:
        """End every session of `username` (but `keep`, an id hash); the number ended."""
        c = t.sessions.c
        where = [c.username == username] + ([c.id_hash != keep] if keep else [])
        return self.conn.execute(delete(t.sessions).where(*where)).rowcount

    def end_expired_sessions(self, idle_since, created_since) -> int:
        """Drop sessions idle since before `idle_since` or opened before `created_since`."""
        c = t.sessions.c
        return self.conn.execute(delete(t.sessions).where(
            or_(c.last_seen_at < idle_since, c.created_at < created_since))).rowcount

    def holders(self, role, office) -> list[str]:
        """Active users holding `role` in `office` (or in every office)."""
        c = t.user_roles.c
        rows = self.conn.execute(
            select(c.username).distinct().join_from(t.user_roles, t.users, t.users.c.username == c.username)
            .where(c.role == role, or_(c.office == office, c.office.is_(None)), t.users.c.active.is_(True))
            .order_by(c.username))
        return list(rows.scalars())

    def holders_and_contacts(self, roles, office) -> tuple[dict[str, list[str]], dict[str, Contact]]:
        """In one query: the active holders of each of `roles` in `office` (or every office), as holders() gives
        them, and the contact of each holder that contacts() would give."""
        names = sorted(set(roles))
        if not names:
            return {}, {}
        return self._cached(("holders", tuple(names), office), lambda: self._holders_and_contacts(names, office))

    def _holders_and_contacts(self, names, office):
        rows = self.conn.execute(_HOLDERS_AND_CONTACTS, {"roles": names, "office": office})
        holders: dict[str, list[str]] = {}
        contacts: dict[str, Contact] = {}
        for r in rows:
            if r.username not in holders.setdefault(r.role, []):
                holders[r.role].append(r.username)
            if r.email_notifications and r.email:
                contacts[r.username] = Contact(r.username, r.full_name or r.username, r.email)
        return holders, contacts

    def contacts(self, usernames) -> list[Contact]:
        """The active users among `usernames` who have an e-mail address and want notifications."""
        names = sorted(set(usernames))
        if not names:
            return []
        c = t.users.c
        rows = self.conn.execute(
            select(c.username, c.full_name, c.email)
            .where(c.username.in_(names), c.active.is_(True), c.email_notifications.is_(True),
                   c.email.is_not(None), c.email != "")
            .order_by(c.username))
        return [Contact(r.username, r.full_name or r.username, r.email) for r in rows]

    def set_notifications(self, username, enabled: bool) -> None:
        self.conn.execute(update(t.users).where(t.users.c.username == username)
                          .values(email_notifications=enabled))

    def set_language(self, username, language) -> None:
        self.conn.execute(update(t.users).where(t.users.c.username == username).values(language=language))

    def grant(self, username, role, office) -> bool:
        c = t.user_roles.c
        exists = self.conn.execute(select(c.id).where(c.username == username, c.role == role,
                                                      c.office.is_(None) if office is None else c.office == office)
                                   ).first()
        if exists:
            return False
        self.conn.execute(insert(t.user_roles).values(username=username, role=role, office=office))
        return True

    def revoke(self, username, role, office) -> bool:
        c = t.user_roles.c
        result = self.conn.execute(delete(t.user_roles).where(
            c.username == username, c.role == role, c.office.is_(None) if office is None else c.office == office))
        return result.rowcount > 0

    def roles_of(self, username):
        """The grants of an active user; an inactive one holds nothing, from the moment it is deactivated."""
        return set(self._cached(("grants", username), lambda: self._roles_of(username)))  # a copy: callers own it

    def _roles_of(self, username):
        rows = self.conn.execute(_USER_GRANTS, {"username": username}).all()  # one query: the user and the grants
        if not rows or not rows[0].active:
            return frozenset()
        return frozenset((r.office, r.role) for r in rows if r.role is not None)

    def users(self, username=None):
        """Users (all, or the one named) with their grants, active or not, in two queries."""
        query = select(t.users).order_by(t.users.c.username)
        grants_query = select(t.user_roles.c.username, t.user_roles.c.office, t.user_roles.c.role)
        if username is not None:
            query = query.where(t.users.c.username == username)
            grants_query = grants_query.where(t.user_roles.c.username == username)
        grants: dict[str, list] = {}
        for r in self.conn.execute(grants_query):
            grants.setdefault(r.username, []).append((r.office, r.role))
        return [(user, sorted(grants.get(user.username, []), key=lambda x: (x[0] or "", x[1])))
                for user in self.conn.execute(query)]

    def role_grants(self, roles) -> list[tuple[str, str | None, str]]:
        """(role, office or None, username) of every active user's grant of one of `roles`."""
        names = sorted(set(roles))
        if not names:
            return []
        c = t.user_roles.c
        rows = self.conn.execute(select(c.role, c.office, c.username)
                                 .join_from(t.user_roles, t.users, t.users.c.username == c.username)
                                 .where(c.role.in_(names), t.users.c.active.is_(True)))
        return [(r.role, r.office, r.username) for r in rows]

    def lane_roles(self, key) -> dict[str, str]:
        """The lanes of an SOP whose work a role not named like the lane does: lane -> role."""
        return dict(self._cached(("lanes", key), lambda: {r.lane: r.role for r in self.conn.execute(_LANE_ROLES,
                                                                                                   {"key": key})}))

    def set_lane_role(self, key, lane, role) -> None:
        """Map a lane to a role; None maps it back to the role named like the lane."""
        c = t.lane_roles.c
        self.conn.execute(delete(t.lane_roles).where(c.key == key, c.lane == lane))
        if role is not None:
            self.conn.execute(insert(t.lane_roles).values(key=key, lane=lane, role=role))


class LoginAttempts:
    """Failed and successful logins, counted across every web process to slow down password guessing."""

    def __init__(self, conn):
        self.conn = conn

    def add(self, username: str, address: str, at, succeeded: bool) -> None:
        self.conn.execute(insert(t.login_attempts).values(username=username[:64], address=address[:64], at=at,
                                                          succeeded=succeeded))

    def failures_since(self, since, *, username=None, address=None) -> int:
        c = t.login_attempts.c
        where = [c.at >= since, c.succeeded.is_(False)]
        where.append(c.username == username[:64] if username is not None else c.address == address[:64])
        if username is not None:
            last_ok = select(func.max(c.at)).where(c.username == username[:64], c.succeeded.is_(True))
            where.append(or_(last_ok.scalar_subquery().is_(None), c.at > last_ok.scalar_subquery()))
        return self.conn.execute(select(func.count()).select_from(t.login_attempts).where(*where)).scalar_one()
