"""SQL repositories and the unit of work: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import asdict

import psycopg
from sqlalchemy import any_, bindparam, create_engine, event, func, insert, not_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, OperationalError

from adapters import inbox_sql, reads
from adapters import tables as t
from adapters.deployments import Deployments
from adapters.directory import (  # noqa: F401 - Office is re-exported
    Attachments,
    CacheMarks,
    Directory,
    DirectoryCache,
    LoginAttempts,
    Office,
)
from adapters.drafts import Drafts
from adapters.outbox import Outbox
from engine.errors import StaleInstance
from engine.model import AuditEvent, Instance, Timer, WorkItem
from engine.state import WorkflowCache

POOL_SIZE = 10  # database connections a process keeps open (ALUR_DB_POOL_SIZE; alur serve: threads + 2 at least)
POOL_OVERFLOW = 10  # more it may open for a burst, closed again when they come back


def make_engine(url: str, pool_size: int = POOL_SIZE) -> Engine:
    """An engine with the settings Alur relies on for each backend.

    The pool keeps `pool_size` connections. It must cover the threads of a process that use the database at once
    (a web worker's request threads), or connections beyond it are closed at every check-in and opened again at the
    next burst. On PostgreSQL each time means a new server process, its caches cold, and the statements psycopg had
    prepared on the closed connection planned anew (B3 with SQLAlchemy's default of 5 for 8 threads: about 130
    connections opened in 15 s, and each completed step slower)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=pool_size, max_overflow=POOL_OVERFLOW)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            # Let SQLAlchemy's begin() issue BEGIN itself, so writers can take the lock up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # Writers serialize at BEGIN: a second completion waits, then sees the first one's result.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("alur_write") else "BEGIN")

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=POOL_OVERFLOW)
    _ping_when_idle(engine)

    @event.listens_for(engine, "before_cursor_execute")
    def _begin(conn, cursor, statement, parameters, context, executemany):
        # A writing unit of work's first statement through SQLAlchemy: its BEGIN first (SqlUnitOfWork.__enter__).
        if conn.info.pop(reads.BEGIN_PENDING, False):
            cursor.execute(b"BEGIN")

    return engine


PING_AFTER_IDLE_SECONDS = 10.0
_RAW = {}


_PSYCOPG = postgresql.psycopg.dialect()


def _raw_sql(statement, keys) -> tuple[str, dict]:
    """A prebuilt write as psycopg's own SQL (for the parameters named `keys`), compiled once; with the values
    of the literals it binds (`state = 'ready'`)."""
    key = (statement, keys)  # the statement itself, not its id: an id may be reused once an object is gone
    found = _RAW.get(key)
    if found is None:
        compiled = _PIPED.get(id(statement), statement).compile(dialect=_PSYCOPG, column_keys=list(keys))
        found = _RAW[key] = (str(compiled), {k: v for k, v in compiled.params.items() if k not in keys})
    return found


def _raw_params(literals: dict, params: dict) -> dict:
    """Parameters as psycopg takes them: aware datetimes as the naive UTC the columns hold (UtcDateTime)."""
    return {**literals, **{k: reads.bind(v) for k, v in params.items()}}


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use only when it sat idle a while (a server restart, a dropped link).

    pool_pre_ping would ping at every checkout: a round trip on every unit of work, 20-35 % of a web request's
    time under load (B3). A connection in steady use is known to be alive; a dead one that slips through fails
    its statement, and the request is answered with the error page like any other database failure."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        record.info["alur_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        since = record.info.get("alur_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as err:  # noqa: BLE001 - any failure: let the pool replace the connection
            raise DisconnectionError() from err


def _labelled(table, prefix, skip=None) -> list:
    """A table's columns labelled `prefix` + name, to read two tables' rows from one statement (`skip`: left out)."""
    return [c.label(f"{prefix}{c.name}") for c in table.c if c.name != skip]


def _from_row(cls, row, prefix="", skip=None):
    """The dataclass `cls` from a row's columns named `prefix` + field (`skip`: left out, None)."""
    values = {f: getattr(row, f"{prefix}{f}") for f in cls.__dataclass_fields__ if f != skip}
    return cls(**values, **({skip: None} if skip else {}))


# Statements of a step, built once: building SQLAlchemy expressions costs more than running them on SQLite.
_SAVE_INSTANCE = (update(t.instances)
                  .where(t.instances.c.id == bindparam("the_id"), t.instances.c.row_version == bindparam("seen"))
                  .values(state=bindparam("new_state"), status=bindparam("new_status"),
                          serializer_version=bindparam("new_serializer"), ended_at=bindparam("new_ended_at"),
                          row_version=bindparam("new_row_version"), deployment_id=bindparam("new_deployment"),
                          version=bindparam("new_version")))
_ITEM = select(t.work_items).where(t.work_items.c.id == bindparam("item"))
_DIRECTORY_VERSION = (select(t.counters.c.value).where(t.counters.c.name == "directory").scalar_subquery()
                      .label("directory_version"))
_CASE_AND_ITEM = (select(t.instances, *_labelled(t.work_items, "item_"), _DIRECTORY_VERSION)
                  .select_from(t.instances.join(t.work_items, t.work_items.c.instance_id == t.instances.c.id))
                  .where(t.work_items.c.id == bindparam("item")))
# Both rows locked, the case first (as every change locks it first): under READ COMMITTED a row read in the same
# statement but not locked would be the version from before the lock was granted, and the item may have moved.
_CASE_AND_ITEM_LOCKED = _CASE_AND_ITEM.with_for_update(of=[t.instances, t.work_items])
_CLOSE_ITEMS = (update(t.work_items).where(t.work_items.c.id.in_(bindparam("ids", expanding=True)),
                                           t.work_items.c.state == "ready")
                .values(state=bindparam("new_state"), completed_at=bindparam("at")))
_COMPLETE_ITEMS = _CLOSE_ITEMS.values(completed_by=bindparam("by"))
_CLOSE_TIMERS = (update(t.timers).where(t.timers.c.id.in_(bindparam("ids", expanding=True)),
                                        t.timers.c.state == "waiting").values(state=bindparam("new_state")))
_TIMER_DUE = update(t.timers).where(t.timers.c.id == bindparam("timer")).values(due_at=bindparam("due"))
_ADD_ITEMS, _ADD_TIMERS = insert(t.work_items), insert(t.timers)


def _any(column):
    """`column = ANY(:ids)`: one array parameter, so the text stays the same whatever the number of ids."""
    return column == any_(bindparam("ids", type_=postgresql.ARRAY(column.type)))


# The same writes for a psycopg pipeline (SqlUnitOfWork.send): their SQL compiled once, whatever the number of ids.
_PIPED = {
    id(_CLOSE_ITEMS): (update(t.work_items).where(_any(t.work_items.c.id), t.work_items.c.state == "ready")
                       .values(state=bindparam("new_state"), completed_at=bindparam("at"))),
    id(_CLOSE_TIMERS): (update(t.timers).where(_any(t.timers.c.id), t.timers.c.state == "waiting")
                        .values(state=bindparam("new_state"))),
}
_PIPED[id(_COMPLETE_ITEMS)] = _PIPED[id(_CLOSE_ITEMS)].values(completed_by=bindparam("by"))
_ADD_AUDIT = insert(t.audit_events).inline()  # no RETURNING of the id: it goes into a pipeline


_ADD_INSTANCE = insert(t.instances).returning(t.instances.c.id)
_SET_NUMBER = update(t.instances).where(t.instances.c.id == bindparam("the_id")).values(number=bindparam("new_number"))
# One upsert: two first cases of a prefix (a new SOP, a new year) started at once must not both insert.
_NEXT_NUMBER = {name: dialect.insert(t.counters).values(name=bindparam("prefix"), value=1)
                .on_conflict_do_update(index_elements=["name"], set_={"value": t.counters.c.value + 1})
                .returning(t.counters.c.value)
                for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


# On PostgreSQL the case and its number's counter in one round trip: both inserts run in the one statement.
_NEW_CASE = (insert(t.instances).values({c.name: bindparam(c.name) for c in t.instances.c if c.name != "id"})
             .returning(t.instances.c.id).cte("new_case"))
_NEW_NUMBER = _NEXT_NUMBER["postgresql"].cte("new_number")
_ADD_NUMBERED_INSTANCE = select(_NEW_CASE.c.id, _NEW_NUMBER.c.value).join_from(_NEW_CASE, _NEW_NUMBER, true())


def _new_row(i: Instance) -> dict:
    """A new case's column values (its id is the database's to give)."""
    values = dict(vars(i))  # asdict() deep-copies: slow
    values.pop("id")
    return values


def _instance(row) -> Instance:
    return Instance(**{f: getattr(row, f) for f in Instance.__dataclass_fields__})


class Instances:
    def __init__(self, conn, dialect, defer=None, transaction=True):
        self.conn, self.dialect, self.defer = conn, dialect, defer
        # Cases this transaction locked or added: no one else can change their rows before it ends, so a save of
        # one needs no row count checked (on PostgreSQL its COMMIT can then go out with its writes). A reading unit
        # of work has no transaction to hold a lock in: whatever it saves is checked.
        self._held, self._transaction = set(), transaction

    def _hold(self, instance_id) -> None:
        if self._transaction:
            self._held.add(instance_id)

    def add(self, i: Instance) -> int:
        instance_id = self.conn.execute(_ADD_INSTANCE, _new_row(i)).scalar_one()
        self._hold(instance_id)
        return instance_id

    def add_numbered(self, i: Instance, prefix: str) -> tuple[int, int]:
        """add(i), then next_number(prefix): (the case's id, its number in the prefix's count). The counter's row
        stays locked until the transaction ends. On PostgreSQL one statement does both."""
        if self.dialect != "postgresql":
            return self.add(i), self.next_number(prefix)
        row = reads.first(self.conn, _ADD_NUMBERED_INSTANCE, {**_new_row(i), "prefix": prefix})  # straight to psycopg
        self._hold(row.id)
        return row.id, row.value

    def get(self, instance_id, *, lock=False):
        query = select(t.instances).where(t.instances.c.id == instance_id)
        if lock and self.dialect != "sqlite":  # SQLite writers already hold the database lock (BEGIN IMMEDIATE)
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is not None and lock:
            self._hold(row.id)
        return _instance(row) if row else None

    # What the pages of a case show of it: every column but the serialized workflow, which can be large.
    _HEADER = select(*[c for c in t.instances.c if c.name != "state"]).where(t.instances.c.id == bindparam("the_id"))

    def get_header(self, instance_id):
        """The case without its workflow state (state is None: for reading, never to be saved); None if none."""
        row = self.conn.execute(self._HEADER, {"the_id": instance_id}).first()
        if row is None:
            return None
        return _from_row(Instance, row, skip="state")

    _HEADER_WITH_ITEM = (
        select(*_labelled(t.work_items, "item_"), *_labelled(t.instances, "case_", skip="state"))
        .join_from(t.work_items, t.instances, t.instances.c.id == t.work_items.c.instance_id)
        .where(t.work_items.c.id == bindparam("item")))

    def get_header_with_item(self, work_item_id):
        """(the case as get_header gives it, the work item) in one query, for a task page; None if no such item."""
        row = reads.first(self.conn, self._HEADER_WITH_ITEM, {"item": str(work_item_id)})
        if row is None:
            return None
        return _from_row(Instance, row, "case_", skip="state"), _from_row(WorkItem, row, "item_")

    def lock_item(self, work_item_id):
        """(case, work item, directory version) in one statement, the case and the item locked until the
        transaction ends (on SQLite the writer holds the database already); None if there is no such item."""
        query = _CASE_AND_ITEM if self.dialect == "sqlite" else _CASE_AND_ITEM_LOCKED
        row = reads.first(self.conn, query, {"item": str(work_item_id)})
        if row is None:
            return None
        self._hold(row.id)
        return _instance(row), _from_row(WorkItem, row, "item_"), row.directory_version

    def try_lock(self, instance_id):
        query = select(t.instances).where(t.instances.c.id == instance_id)
        if self.dialect != "sqlite":
            query = query.with_for_update(skip_locked=True)
        row = self.conn.execute(query).first()
        if row is None:
            return None
        self._hold(row.id)
        return _instance(row)

    def save(self, i: Instance) -> None:
        """Write the case's new state (checked against the row_version it was read at). On PostgreSQL the write
        goes out with the transaction's other deferred writes (SqlUnitOfWork.defer); the check holds at commit.

        A case this transaction locked or added cannot have moved since it was read: its row count is not checked,
        which lets the COMMIT go out in the same round trip as the writes."""
        params = {  # deployment and version move when a case is migrated
            "the_id": i.id, "seen": i.row_version, "new_state": i.state, "new_status": i.status,
            "new_serializer": i.serializer_version, "new_ended_at": i.ended_at, "new_row_version": i.row_version + 1,
            "new_deployment": i.deployment_id, "new_version": i.version}
        stale = StaleInstance(f"Case {i.number} was changed by someone else meanwhile; reload and try again.",
                              instance=i.id)
        if self.defer is not None:
            self.defer(_SAVE_INSTANCE, params, None if i.id in self._held else stale)
        elif self.conn.execute(_SAVE_INSTANCE, params).rowcount != 1:
            raise stale
        i.row_version += 1

    def list(self, status=None):
        """Cases without their state: listing never fetches the workflow blobs."""
        columns = [c for c in t.instances.c if c.name != "state"]
        query = select(*columns).order_by(t.instances.c.id)
        if status:
            query = query.where(t.instances.c.status == status)
        return [Instance(state="", **{f: getattr(r, f) for f in Instance.__dataclass_fields__ if f != "state"})
                for r in self.conn.execute(query)]

    def search(self, *, key=None, status=None, offices=(), limit=500) -> tuple[list[Instance], int]:
        """Cases of the given offices, newest first, without their state; and how many matched in all."""
        c = t.instances.c
        where = [c.office.in_(list(offices))]
        if key:
            where.append(c.key == key)
        if status:
            where.append(c.status == status)
        total = self.conn.execute(select(func.count()).select_from(t.instances).where(*where)).scalar_one()
        rows = self.conn.execute(select(*[x for x in c if x.name != "state"]).where(*where)
                                 .order_by(c.id.desc()).limit(limit))
        return [Instance(state="", **{f: getattr(r, f) for f in Instance.__dataclass_fields__ if f != "state"})
                for r in rows], total

    def id_by_number(self, number: str) -> int | None:
        return self.conn.execute(select(t.instances.c.id).where(t.instances.c.number == number)).scalar()

    def next_number(self, prefix: str) -> int:
        """The prefix's next case number. The counter's row stays locked until the transaction ends (so numbers
        have no gaps): take it as late as possible, as services.start does."""
        return self.conn.execute(_NEXT_NUMBER[self.dialect], {"prefix": prefix}).scalar_one()

    def set_number(self, instance_id: int, number: str) -> None:
        """Give a case this transaction added its number (deferred on PostgreSQL, like save)."""
        (self.defer or self.conn.execute)(_SET_NUMBER, {"the_id": instance_id, "new_number": number})


def _work_item(row) -> WorkItem:
    return WorkItem(**{f: getattr(row, f) for f in WorkItem.__dataclass_fields__})


class WorkItems:
    def __init__(self, conn, send=None):
        self.conn, self.send = conn, send or conn.execute

    def add(self, w: WorkItem) -> None:
        self.conn.execute(insert(t.work_items).values(**asdict(w)))

    def add_many(self, items: list[WorkItem]) -> None:
        self.send(_ADD_ITEMS, [dict(vars(w)) for w in items])  # asdict() deep-copies: slow

    def close(self, ids, state: str, at, by=None) -> None:
        """Ready items leave the inbox: completed (by someone) or cancelled (the path moved on without them)."""
        params = {"ids": list(ids), "new_state": state, "at": at}
        self.send(_COMPLETE_ITEMS if by else _CLOSE_ITEMS, {**params, "by": by} if by else params)

    def get(self, item_id):
        row = self.conn.execute(_ITEM, {"item": str(item_id)}).first()
        return _work_item(row) if row else None

    def update(self, w: WorkItem) -> None:
        values = asdict(w)
        values.pop("id")
        self.conn.execute(update(t.work_items).where(t.work_items.c.id == w.id).values(**values))

    def set_suspended(self, instance_id: int, suspended: bool) -> None:
        """Mark the case's ready items as its suspension says (they leave or rejoin the inboxes)."""
        c = t.work_items.c
        self.conn.execute(update(t.work_items).where(c.instance_id == instance_id, c.state == "ready")
                          .values(suspended=suspended))

    def ready_ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        c = t.work_items.c
        query = select(c.id).where(c.state == "ready", c.id.startswith(prefix, autoescape=True)).limit(limit)
        return list(self.conn.execute(query).scalars())

    def open_for_instance(self, instance_id):
        rows = self.conn.execute(select(t.work_items).where(t.work_items.c.instance_id == instance_id,
                                                            t.work_items.c.state == "ready"))
        return [_work_item(r) for r in rows]

    def claimed_by(self, username) -> list[WorkItem]:
        """Ready work items `username` has claimed, in any case."""
        c = t.work_items.c
        return [_work_item(r) for r in self.conn.execute(select(t.work_items).where(c.state == "ready",
                                                                                     c.claimed_by == username))]

    _OF_CASE = (select(t.work_items).where(t.work_items.c.instance_id == bindparam("case"))
                .order_by(t.work_items.c.ready_at))

    def for_instance(self, instance_id):
        return [_work_item(r) for r in reads.rows(self.conn, self._OF_CASE, {"case": instance_id})]

    def inbox(self, roles, user, query, now):
        """One page of ready items the grants allow, hiding items claimed by someone else; and the total."""
        return inbox_sql.inbox_entries(self.conn, roles, user, query, now)

    def ready(self, roles=None, role=None, limit=500):
        c = t.work_items.c
        running = select(t.instances.c.id).where(t.instances.c.status == "running")
        query = select(t.work_items).where(c.state == "ready", c.instance_id.in_(running))
        if role:
            query = query.where(c.role == role)
        if roles is not None:
            if not roles:
                return []
            query = query.where(inbox_sql.grants_condition(roles))
        query = query.order_by(*inbox_sql.order(c, "due")).limit(limit)
        return [_work_item(r) for r in self.conn.execute(query)]


def _timer(row) -> Timer:
    return Timer(**{f: getattr(row, f) for f in Timer.__dataclass_fields__})


class Timers:
    def __init__(self, conn, send=None, pin=None):
        self.conn, self.send, self.pin = conn, send or conn.execute, pin

    def add(self, timer: Timer) -> None:
        self.conn.execute(insert(t.timers).values(**asdict(timer)))

    def add_many(self, timers: list[Timer]) -> None:
        self.send(_ADD_TIMERS, [dict(vars(timer)) for timer in timers])

    def close(self, ids, state: str) -> None:
        """Waiting timers that fired or were cancelled."""
        self.send(_CLOSE_TIMERS, {"ids": list(ids), "new_state": state})

    def set_due(self, timer_id, due_at) -> None:
        self.send(_TIMER_DUE, {"timer": timer_id, "due": due_at})

    def update(self, timer: Timer) -> None:
        values = asdict(timer)
        values.pop("id")
        self.conn.execute(update(t.timers).where(t.timers.c.id == timer.id).values(**values))

    def waiting_for_instance(self, instance_id):
        rows = self.conn.execute(select(t.timers).where(t.timers.c.instance_id == instance_id,
                                                        t.timers.c.state == "waiting").order_by(t.timers.c.due_at))
        return [_timer(r) for r in rows]

    def waiting_instances(self, office) -> list[int]:
        """Cases of an office with a waiting timer."""
        query = (select(t.timers.c.instance_id).distinct()
                 .join(t.instances, t.instances.c.id == t.timers.c.instance_id)
                 .where(t.timers.c.state == "waiting", t.instances.c.office == office))
        return sorted(self.conn.execute(query).scalars())

    def due(self, now, limit):
        # Timers of suspended cases wait without taking a place in the batch; they fire after the resume.
        running = select(t.instances.c.id).where(t.instances.c.status == "running")
        rows = self.conn.execute(select(t.timers).where(t.timers.c.state == "waiting", t.timers.c.due_at <= now,
                                                        t.timers.c.instance_id.in_(running))
                                 .order_by(t.timers.c.due_at).limit(limit))
        return [_timer(r) for r in rows]

    def claim(self, first_due, last_due, skip=()):
        """(timer, its case) for the earliest timer due from `first_due` to `last_due` (both past) that waits in
        a running case no other transaction holds, the case locked until the transaction ends; None when there is
        none. `skip`: timer ids to pass over.

        On PostgreSQL the case row is locked FOR UPDATE SKIP LOCKED (a completion takes the same lock), so workers
        sweeping the same due timers take different cases without waiting for each other; the case row returned
        is its newest version. The timer row is as of the statement's start: re-read it under the lock before
        trusting it. On SQLite the writer holds the database lock already. The window bounds the work of each
        claim whatever plan the statistics lead to; the statement's text never changes, so it is prepared once."""
        postgres = self.conn.dialect.name != "sqlite"
        row = self.conn.execute(_CLAIM["postgresql" if postgres else "sqlite"],
                                {"first": first_due, "last": last_due, "skip": list(skip)}).first()
        if row is None:
            return None
        if self.pin is not None:  # the fire reads the office, its calendar and the holders through the cache
            self.pin(row.directory_version)
        return _from_row(Timer, row, "timer_"), _instance(row)


def _claim_queries():
    c = t.timers.c
    query = (select(*_labelled(t.timers, "timer_"), t.instances, _DIRECTORY_VERSION)
             .join_from(t.timers, t.instances, t.instances.c.id == c.instance_id)
             .where(c.state == "waiting", c.due_at >= bindparam("first"), c.due_at <= bindparam("last"),
                    t.instances.c.status == "running")
             .order_by(c.due_at).limit(1))
    skip_any = any_(bindparam("skip", type_=postgresql.ARRAY(c.id.type)))  # one array: the text stays the same
    return {"sqlite": query.where(c.id.not_in(bindparam("skip", expanding=True))),
            "postgresql": query.where(not_(c.id == skip_any)).with_for_update(of=t.instances, skip_locked=True)}


_CLAIM = _claim_queries()  # built once: a sweep claims one timer per transaction, thousands in a row


class Audit:
    def __init__(self, conn, defer=None):
        self.conn, self.defer = conn, defer or conn.execute

    def add(self, e: AuditEvent) -> None:
        """Append an event; it is written with the transaction's other deferred writes, at the latest at commit."""
        self.defer(_ADD_AUDIT, {
            "instance_id": e.instance_id, "at": e.at, "actor": e.actor, "type": e.type, "step_id": e.step_id,
            "data_json": json.dumps(e.data, ensure_ascii=False, default=str)})

    _OF_CASE = (select(t.audit_events).where(t.audit_events.c.instance_id == bindparam("case"))
                .order_by(t.audit_events.c.id))

    def for_instance(self, instance_id):
        return [AuditEvent(r.instance_id, r.at, r.actor, r.type, r.step_id, json.loads(r.data_json), r.id)
                for r in reads.rows(self.conn, self._OF_CASE, {"case": instance_id})]

    def all(self):
        rows = self.conn.execute(select(t.audit_events).order_by(t.audit_events.c.id))
        return [AuditEvent(r.instance_id, r.at, r.actor, r.type, r.step_id, json.loads(r.data_json), r.id)
                for r in rows]


class SqlUnitOfWork:
    """One database transaction; `write=True` takes the write lock at BEGIN on SQLite.

    `workflows` is the process's cache of deserialized workflows for this database (engine/state.py); what
    `after_commit` is given runs only once the transaction has committed.
    """

    def __init__(self, engine: Engine, write: bool = True, workflows: WorkflowCache | None = None,
                 deployment_cache: dict | None = None, directory_cache: DirectoryCache | None = None,
                 marks: CacheMarks | None = None):
        self.engine, self.write = engine, write
        self._marks = None if write else marks
        self.workflows = workflows if workflows is not None else WorkflowCache(0)
        self._deployment_cache, self._directory_cache = deployment_cache, directory_cache
        self.conn = None
        self._after_commit = []
        self._deferred = []  # (statement, params, error when it does not change exactly one row)
        self._piped = None  # inside pipeline() on PostgreSQL: [(cursor, error)] of the row counts to check
        self._deferring = False  # inside deferring(): what is sent waits for the commit
        self._repositories = ()  # the names __enter__ gives them, let go of at __exit__
        self._info = {}  # the connection's info (SQLAlchemy's Connection.info), from __enter__

    def __enter__(self):
        conn = self.engine.connect()
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            # Reads need no transaction block: under READ COMMITTED each statement sees its own snapshot either
            # way, and without one a read-only unit of work saves the BEGIN and ROLLBACK round trips. A writing one
            # sends its BEGIN itself, with its first statement: psycopg would send it alone and wait for the answer
            # (a round trip of its own). Every way a statement goes out sends it first: SQLAlchemy's execute (the
            # engine's before_cursor_execute, make_engine), reads.rows and pipeline(). COMMIT and ROLLBACK are
            # psycopg's, which sends them whenever the server is in a transaction, autocommit or not.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if self.write:
            conn = conn.execution_options(alur_write=True)
        self.conn = conn
        self._info = conn.info  # kept: a connection lost meanwhile no longer gives it
        self._tx = conn.begin()
        if self.write and dialect == "postgresql":
            self._info[reads.BEGIN_PENDING] = True
        directory = Directory(conn, self._directory_cache)
        if self._marks:
            directory.pin(self._marks.directory_version)
        repositories = {
            "deployments": Deployments(conn, self._deployment_cache, self._marks and self._marks.deployments),
            "instances": Instances(conn, dialect, self.defer if dialect == "postgresql" else None, self.write),
            "directory": directory,
            "work_items": WorkItems(conn, self.send),
            "timers": Timers(conn, self.send, directory.pin),
            "audit": Audit(conn, self.defer),
            "attachments": Attachments(conn),
            "logins": LoginAttempts(conn),
            "outbox": Outbox(conn, self.defer if dialect == "postgresql" else None),
            "drafts": Drafts(conn),
        }
        self.__dict__.update(repositories)
        self._repositories = tuple(repositories)
        return self

    def __exit__(self, exc_type, exc, tb):
        self._after_commit.clear()
        self._deferred.clear()
        if self.conn is None:
            return
        self._info.pop(reads.BEGIN_PENDING, None)  # nothing was sent: nothing to end either
        try:
            if self._tx.is_active:
                self._tx.rollback()  # anything not committed explicitly is undone
        finally:
            self.conn.close()
            self.conn = self._tx = None
            # The repositories hold this unit of work's methods (defer, send): let go of them, so the unit of work
            # is freed when its last user lets go, not left to the cyclic garbage collector (see state.dismantle).
            for name in self._repositories:
                self.__dict__.pop(name, None)

    def defer(self, statement, params, stale: Exception | None = None) -> None:
        """Write later, with the other deferred writes, in one round trip on PostgreSQL (at the next pipeline() or
        at commit at the latest): appends and updates nothing in the transaction reads back. `stale`: raised at
        the flush unless the statement changed exactly one row."""
        self._deferred.append((statement, params, stale))

    def send(self, statement, params, stale: Exception | None = None) -> None:
        """Run a prebuilt write (a list of parameter sets: one statement for each). Inside pipeline() on
        PostgreSQL it goes straight to psycopg, queued without waiting: no SQLAlchemy round of work per statement,
        and its row count is checked once the pipeline has synced. `stale`: raised unless exactly one row changed."""
        if self._deferring:
            self._deferred.append((statement, params, stale))
            return
        if self._piped is None:
            result = self.conn.execute(statement, params)
            if stale is not None and result.rowcount != 1:
                raise stale
            return
        cursor = self.conn.connection.driver_connection.cursor()
        if isinstance(params, list):
            sql, literals = _raw_sql(statement, tuple(params[0]))
            cursor.executemany(sql, [_raw_params(literals, p) for p in params])
        else:
            sql, literals = _raw_sql(statement, tuple(params))
            cursor.execute(sql, _raw_params(literals, params))
        if stale is not None:
            self._piped.append((cursor, stale))

    def _flush(self) -> None:
        deferred, self._deferred = self._deferred, []
        for statement, params, stale in deferred:
            self.send(statement, params, stale)

    def commit(self):
        try:
            if self._deferred:
                with self.pipeline(commit=True):
                    pass
            self._tx.commit()  # on PostgreSQL a no-op when the pipeline committed already
        except OperationalError as err:
            self._after_commit.clear()
            raise StaleInstance("The database was busy and the change was not saved; try again.") from err
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    @contextmanager
    def pipeline(self, commit=False):
        """The deferred writes, then the statements issued inside, sent without waiting for each answer (psycopg's
        pipeline mode on PostgreSQL): no read may go inside. SQLite runs in process: nothing to save there.

        `commit` (from commit()): the COMMIT goes out in the same round trip, unless a write's row count is still
        to be checked. If a write fails, PostgreSQL skips the rest of the pipeline, the COMMIT too: nothing lands.
        """
        if self._deferring:
            yield
            return
        if self.engine.dialect.name != "postgresql" or self._piped is not None:
            self._flush()
            yield
            return
        self._piped = checks = []
        try:
            driver = self.conn.connection.driver_connection
            with driver.pipeline():
                if self._info.pop(reads.BEGIN_PENDING, False):
                    driver.cursor().execute(b"BEGIN")
                self._flush()
                yield
                if commit and not checks:
                    # Queued with the writes, so the pipeline's one Sync carries them all. (connection.commit()
                    # syncs at once, and leaving the pipeline then takes a second round trip for nothing.)
                    driver.cursor().execute(b"COMMIT")
        except psycopg.Error as err:
            # As SQLAlchemy does for its own statements: its exception types (an OperationalError at the COMMIT is
            # StaleInstance in commit()), and a lost connection invalidated, not handed back to the pool.
            self.conn._handle_dbapi_exception(err, "(pipeline)", {}, None, None)  # noqa: SLF001 - raises, wrapped
            raise
        finally:
            self._piped = None
        for cursor, stale in checks:
            if cursor.rowcount != 1:
                raise stale

    def flush(self) -> None:
        """Send what waits for the commit now (in one round trip on PostgreSQL), for a read that must see it; inside
        deferring() too."""
        was, self._deferring = self._deferring, False
        try:
            with self.pipeline():
                pass
        finally:
            self._deferring = was

    @contextmanager
    def deferring(self):
        """Inside, every write sent (send, pipeline) is deferred: all go out at commit, in one round trip with the
        COMMIT on PostgreSQL. For a change that holds a contended lock (a case number) until it commits, and for the
        writes of a step. It nests: leaving an inner one still defers."""
        was, self._deferring = self._deferring, True
        try:
            yield
        finally:
            self._deferring = was

    def after_commit(self, callback) -> None:
        """Run `callback` once this transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)


class UowFactory:
    """Makes units of work on one engine: `factory()` to write, `factory(write=False)` to read.

    `factory(write=False, marks=m)`: a read whose directory reads (grants, offices, lane roles, ...) come from the
    process's DirectoryCache as of `m.directory_version`, and whose SOP list is checked against `m.deployments`:
    CacheMarks the caller read just before (the web UI reads them with the session, first thing in every request).
    Writing units never take them: a step pins the version it reads with its lock, and a change to the directory
    must read the directory itself."""

    def __init__(self, engine: Engine, workflow_cache_size: int = 256):
        self.engine = engine
        # Per database (ids are only unique within one), shared by the threads of this process.
        self.workflows = WorkflowCache(workflow_cache_size)
        self.deployments = {}  # deployment id -> Deployment, see Deployments.of_case
        self.directory = DirectoryCache()

    def __call__(self, write: bool = True, marks: CacheMarks | None = None) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write, self.workflows, self.deployments, self.directory, marks)
