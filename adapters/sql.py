"""SQL repositories and the unit of work: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import asdict

from sqlalchemy import bindparam, create_engine, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, OperationalError

from adapters import inbox_sql
from adapters import tables as t
from adapters.deployments import Deployments
from adapters.directory import Attachments, Directory, LoginAttempts, Office  # noqa: F401 - Office is re-exported
from adapters.drafts import Drafts
from adapters.outbox import Outbox
from engine.errors import StaleInstance
from engine.model import AuditEvent, Instance, Timer, WorkItem
from engine.state import WorkflowCache


def make_engine(url: str) -> Engine:
    """An engine with the settings Alur relies on for each backend."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

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
    engine = create_engine(url)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 10.0


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


# Statements of a step, built once: building SQLAlchemy expressions costs more than running them on SQLite.
_ITEM_CASE = select(t.work_items.c.instance_id).where(t.work_items.c.id == bindparam("item")).scalar_subquery()
_INSTANCE_OF_ITEM = select(t.instances).where(t.instances.c.id == _ITEM_CASE)
_INSTANCE_OF_ITEM_LOCKED = _INSTANCE_OF_ITEM.with_for_update()
_SAVE_INSTANCE = (update(t.instances)
                  .where(t.instances.c.id == bindparam("the_id"), t.instances.c.row_version == bindparam("seen"))
                  .values(state=bindparam("new_state"), status=bindparam("new_status"),
                          serializer_version=bindparam("new_serializer"), ended_at=bindparam("new_ended_at"),
                          row_version=bindparam("new_row_version"), deployment_id=bindparam("new_deployment"),
                          version=bindparam("new_version")))
_ITEM = select(t.work_items).where(t.work_items.c.id == bindparam("item"))
_CLOSE_ITEMS = (update(t.work_items).where(t.work_items.c.id.in_(bindparam("ids", expanding=True)),
                                           t.work_items.c.state == "ready")
                .values(state=bindparam("new_state"), completed_at=bindparam("at")))
_COMPLETE_ITEMS = _CLOSE_ITEMS.values(completed_by=bindparam("by"))
_CLOSE_TIMERS = (update(t.timers).where(t.timers.c.id.in_(bindparam("ids", expanding=True)),
                                        t.timers.c.state == "waiting").values(state=bindparam("new_state")))
_TIMER_DUE = update(t.timers).where(t.timers.c.id == bindparam("timer")).values(due_at=bindparam("due"))
_ADD_AUDIT = insert(t.audit_events)


def _instance(row) -> Instance:
    return Instance(**{f: getattr(row, f) for f in Instance.__dataclass_fields__})


class Instances:
    def __init__(self, conn, dialect):
        self.conn, self.dialect = conn, dialect

    def add(self, i: Instance) -> int:
        values = asdict(i)
        values.pop("id")
        return self.conn.execute(insert(t.instances).values(**values).returning(t.instances.c.id)).scalar_one()

    def get(self, instance_id, *, lock=False):
        query = select(t.instances).where(t.instances.c.id == instance_id)
        if lock and self.dialect != "sqlite":  # SQLite writers already hold the database lock (BEGIN IMMEDIATE)
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return _instance(row) if row else None

    def get_of_item(self, work_item_id, *, lock=False):
        """The case a work item belongs to (locked like get(lock=True)), in one query; None if no such item."""
        query = _INSTANCE_OF_ITEM_LOCKED if lock and self.dialect != "sqlite" else _INSTANCE_OF_ITEM
        row = self.conn.execute(query, {"item": str(work_item_id)}).first()
        return _instance(row) if row else None

    def try_lock(self, instance_id):
        query = select(t.instances).where(t.instances.c.id == instance_id)
        if self.dialect != "sqlite":
            query = query.with_for_update(skip_locked=True)
        row = self.conn.execute(query).first()
        return _instance(row) if row else None

    def save(self, i: Instance) -> None:
        result = self.conn.execute(_SAVE_INSTANCE, {  # deployment and version move when a case is migrated
            "the_id": i.id, "seen": i.row_version, "new_state": i.state, "new_status": i.status,
            "new_serializer": i.serializer_version, "new_ended_at": i.ended_at, "new_row_version": i.row_version + 1,
            "new_deployment": i.deployment_id, "new_version": i.version})
        if result.rowcount != 1:
            raise StaleInstance(f"Case {i.number} was changed by someone else meanwhile; reload and try again.",
                                instance=i.id)
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
        # One upsert: two first cases of a prefix (a new SOP, a new year) started at once must not both insert.
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        query = (dialect.insert(t.counters).values(name=prefix, value=1)
                 .on_conflict_do_update(index_elements=["name"], set_={"value": t.counters.c.value + 1}))
        return self.conn.execute(query.returning(t.counters.c.value)).scalar_one()


def _work_item(row) -> WorkItem:
    return WorkItem(**{f: getattr(row, f) for f in WorkItem.__dataclass_fields__})


class WorkItems:
    def __init__(self, conn):
        self.conn = conn

    def add(self, w: WorkItem) -> None:
        self.conn.execute(insert(t.work_items).values(**asdict(w)))

    def add_many(self, items: list[WorkItem]) -> None:
        self.conn.execute(insert(t.work_items), [dict(vars(w)) for w in items])  # asdict() deep-copies: slow

    def close(self, ids, state: str, at, by=None) -> None:
        """Ready items leave the inbox: completed (by someone) or cancelled (the path moved on without them)."""
        params = {"ids": list(ids), "new_state": state, "at": at}
        self.conn.execute(_COMPLETE_ITEMS if by else _CLOSE_ITEMS, {**params, "by": by} if by else params)

    def get(self, item_id):
        row = self.conn.execute(_ITEM, {"item": str(item_id)}).first()
        return _work_item(row) if row else None

    def update(self, w: WorkItem) -> None:
        values = asdict(w)
        values.pop("id")
        self.conn.execute(update(t.work_items).where(t.work_items.c.id == w.id).values(**values))

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

    def for_instance(self, instance_id):
        rows = self.conn.execute(select(t.work_items).where(t.work_items.c.instance_id == instance_id)
                                 .order_by(t.work_items.c.ready_at))
        return [_work_item(r) for r in rows]

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
    def __init__(self, conn):
        self.conn = conn

    def add(self, timer: Timer) -> None:
        self.conn.execute(insert(t.timers).values(**asdict(timer)))

    def add_many(self, timers: list[Timer]) -> None:
        self.conn.execute(insert(t.timers), [dict(vars(timer)) for timer in timers])

    def close(self, ids, state: str) -> None:
        """Waiting timers that fired or were cancelled."""
        self.conn.execute(_CLOSE_TIMERS, {"ids": list(ids), "new_state": state})

    def set_due(self, timer_id, due_at) -> None:
        self.conn.execute(_TIMER_DUE, {"timer": timer_id, "due": due_at})

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

    def claim(self, timer_ids, now):
        """(timer, its case) for the earliest of `timer_ids` that is waiting and due in a running case no other
        transaction holds, the case locked until the transaction ends; None when there is none.

        On PostgreSQL the case row is locked FOR UPDATE SKIP LOCKED (a completion takes the same lock), so workers
        sweeping the same due timers take different cases without waiting for each other; the case row returned
        is its newest version. The timer row is as of the statement's start: re-read it under the lock before
        trusting it. On SQLite the writer holds the database lock already."""
        query = _CLAIM["sqlite" if self.conn.dialect.name == "sqlite" else "locking"]
        row = self.conn.execute(query, {"timers": list(timer_ids), "now": now}).first()
        if row is None:
            return None
        return Timer(**{f: getattr(row, f"timer_{f}") for f in Timer.__dataclass_fields__}), _instance(row)


def _claim_query():
    c = t.timers.c
    query = (select(*[x.label(f"timer_{x.name}") for x in c], t.instances)
             .join_from(t.timers, t.instances, t.instances.c.id == c.instance_id)
             .where(c.id.in_(bindparam("timers", expanding=True)), c.state == "waiting",
                    c.due_at <= bindparam("now"), t.instances.c.status == "running")
             .order_by(c.due_at).limit(1))
    return {"sqlite": query, "locking": query.with_for_update(of=t.instances, skip_locked=True)}


_CLAIM = _claim_query()  # built once: a sweep claims one timer per transaction, thousands in a row


class Audit:
    def __init__(self, conn):
        self.conn = conn

    def add(self, e: AuditEvent) -> None:
        self.conn.execute(_ADD_AUDIT, {
            "instance_id": e.instance_id, "at": e.at, "actor": e.actor, "type": e.type, "step_id": e.step_id,
            "data_json": json.dumps(e.data, ensure_ascii=False, default=str)})

    def for_instance(self, instance_id):
        rows = self.conn.execute(select(t.audit_events).where(t.audit_events.c.instance_id == instance_id)
                                 .order_by(t.audit_events.c.id))
        return [AuditEvent(r.instance_id, r.at, r.actor, r.type, r.step_id, json.loads(r.data_json), r.id)
                for r in rows]

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
                 deployment_cache: dict | None = None):
        self.engine, self.write = engine, write
        self.workflows = workflows if workflows is not None else WorkflowCache(0)
        self._deployment_cache = deployment_cache
        self.conn = None
        self._after_commit = []

    def __enter__(self):
        conn = self.engine.connect()
        if self.write:
            conn = conn.execution_options(alur_write=True)
        self.conn = conn
        self._tx = conn.begin()
        dialect = self.engine.dialect.name
        self.deployments = Deployments(conn, self._deployment_cache)
        self.instances = Instances(conn, dialect)
        self.work_items = WorkItems(conn)
        self.timers = Timers(conn)
        self.audit = Audit(conn)
        self.directory = Directory(conn)
        self.attachments = Attachments(conn)
        self.logins = LoginAttempts(conn)
        self.outbox = Outbox(conn)
        self.drafts = Drafts(conn)
        return self

    def __exit__(self, exc_type, exc, tb):
        self._after_commit.clear()
        if self.conn is None:
            return
        try:
            if self._tx.is_active:
                self._tx.rollback()  # anything not committed explicitly is undone
        finally:
            self.conn.close()
            self.conn = None

    def commit(self):
        try:
            self._tx.commit()
        except OperationalError as err:
            self._after_commit.clear()
            raise StaleInstance("The database was busy and the change was not saved; try again.") from err
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def pipeline(self):
        """Statements issued inside are sent without waiting for each answer (psycopg's pipeline mode on
        PostgreSQL; a read inside waits for what went before). SQLite runs in process: nothing to save there."""
        if self.engine.dialect.name == "postgresql":
            return self.conn.connection.driver_connection.pipeline()
        return nullcontext()

    def after_commit(self, callback) -> None:
        """Run `callback` once this transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)


class UowFactory:
    """Makes units of work on one engine: `factory()` to write, `factory(write=False)` to read."""

    def __init__(self, engine: Engine, workflow_cache_size: int = 256):
        self.engine = engine
        # Per database (ids are only unique within one), shared by the threads of this process.
        self.workflows = WorkflowCache(workflow_cache_size)
        self.deployments = {}  # deployment id -> Deployment, see Deployments.of_case

    def __call__(self, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write, self.workflows, self.deployments)
