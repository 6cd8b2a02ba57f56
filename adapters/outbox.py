"""The outbox repository: e-mails queued by engine transactions, claimed and settled by the sender."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters import tables as t
from engine.model import OutboxMessage

_COLUMNS = tuple(OutboxMessage.__dataclass_fields__)


def _message(row) -> OutboxMessage:
    return OutboxMessage(**{f: getattr(row, f) for f in _COLUMNS})


# ON CONFLICT DO NOTHING, not a check first: a concurrent duplicate must not fail the engine's transaction. Built
# once per dialect, its values given as parameters, so queuing a message builds and compiles no statement. SQLAlchemy
# keeps an INSERT's rowcount only when asked (preserve_rowcount): without it add() said False on PostgreSQL.
_ADD = {name: dialect.insert(t.outbox).inline().on_conflict_do_nothing(index_elements=["dedupe_key"])
        .execution_options(preserve_rowcount=True)
        for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


def _values(m: OutboxMessage) -> dict:
    """A message's columns as an insert takes them (no id; due at once unless it says otherwise)."""
    values = {f: getattr(m, f) for f in _COLUMNS if f != "id"}
    values["next_attempt_at"] = m.next_attempt_at or m.created_at
    return values


class Outbox:
    def __init__(self, conn, defer=None):
        self.conn, self.defer = conn, defer
        self.dialect = conn.dialect.name

    def add(self, m: OutboxMessage) -> bool:
        """Queue a message; False (and nothing written) when its dedupe_key is queued already."""
        return self.conn.execute(_ADD[self.dialect if self.dialect == "postgresql" else "sqlite"],
                                 _values(m)).rowcount == 1

    def queue(self, m: OutboxMessage) -> None:
        """Queue a message, skipped if its dedupe_key is queued already, like add(); on PostgreSQL it is written with
        the transaction's other deferred writes (SqlUnitOfWork.defer), at the latest at commit: no round trip of its
        own while the change holds its locks."""
        if self.defer is None:
            self.add(m)
        else:
            self.defer(_ADD["postgresql"], _values(m))

    def add_many(self, messages) -> int:
        """Queue several messages in one statement; how many were new (a dedupe_key queued already is skipped)."""
        rows = [_values(m) for m in messages]
        if not rows:
            return 0
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        query = (dialect.insert(t.outbox).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
                 .execution_options(preserve_rowcount=True))
        return self.conn.execute(query).rowcount

    def claim(self, now, limit, lease_until) -> list[OutboxMessage]:
        """Take due messages (pending, or sending with an expired lease) for one sender until `lease_until`."""
        c = t.outbox.c
        due = (select(c.id).where(c.state.in_(("pending", "sending")), c.next_attempt_at <= now)
               .order_by(c.next_attempt_at, c.id).limit(limit))
        if self.dialect != "sqlite":  # SQLite writers already hold the database lock (BEGIN IMMEDIATE)
            due = due.with_for_update(skip_locked=True)
        ids = list(self.conn.execute(due).scalars())
        if not ids:
            return []
        self.conn.execute(update(t.outbox).where(c.id.in_(ids))
                          .values(state="sending", attempts=c.attempts + 1, next_attempt_at=lease_until))
        return [_message(r) for r in self.conn.execute(select(t.outbox).where(c.id.in_(ids)).order_by(c.id))]

    def mark_sent(self, message_id: int, now) -> None:
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == message_id)
                          .values(state="sent", sent_at=now, last_error=None))

    def mark_failed(self, message_id: int, error: str, retry_at=None) -> None:
        """Record a failed attempt: pending again from `retry_at`, or failed for good when it is None."""
        values = {"state": "pending", "next_attempt_at": retry_at} if retry_at else {"state": "failed"}
        self.conn.execute(update(t.outbox).where(t.outbox.c.id == message_id)
                          .values(last_error=error[:1000], **values))

    def release(self, message_ids, now) -> None:
        """Give claimed messages that were never tried back to the queue, without counting an attempt."""
        c = t.outbox.c
        self.conn.execute(update(t.outbox).where(c.id.in_(list(message_ids)), c.state == "sending")
                          .values(state="pending", attempts=c.attempts - 1, next_attempt_at=now))

    def count(self, state: str = "pending") -> int:
        return self.conn.execute(select(func.count()).select_from(t.outbox)
                                 .where(t.outbox.c.state == state)).scalar_one()

    def list(self, recipient: str | None = None) -> list[OutboxMessage]:
        query = select(t.outbox).order_by(t.outbox.c.id)
        if recipient:
            query = query.where(t.outbox.c.recipient == recipient)
        return [_message(r) for r in self.conn.execute(query)]
