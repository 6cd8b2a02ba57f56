"""The SQL schema (SQLAlchemy Core); Alembic migrations in adapters/migrations create and upgrade it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UtcDateTime(TypeDecorator):
    """Aware datetimes stored as naive UTC on every backend, returned aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; Alur stores aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


offices = Table(
    "offices", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False, default="Asia/Jakarta"),
    Column("time_mode", String(16), nullable=False, default="working"),
    Column("schedule", Text),  # working hours per weekday ("mon-thu 07:30-12:00 13:00-16:00; …"); NULL: national
)

office_days = Table(
    "office_days", metadata,
    Column("office", String(32), ForeignKey("offices.code"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("kind", String(16), nullable=False),  # holiday: the office is closed | workday: it works a national holiday
    Column("note", String(200)),
)

users = Table(
    "users", metadata,
    Column("username", String(64), primary_key=True),
    Column("full_name", String(200), nullable=False, default=""),
    Column("email", String(200)),
    Column("password_hash", String(300), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("language", String(8)),  # the UI language the user chose; NULL: Bahasa Indonesia
    Column("email_notifications", Boolean, nullable=False, default=True, server_default=true()),
    Column("deactivated_at", UtcDateTime),
)

user_roles = Table(
    "user_roles", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False, index=True),
    Column("role", String(200), nullable=False),
    Column("office", String(32), ForeignKey("offices.code")),  # NULL: every office
    UniqueConstraint("username", "role", "office", name="uq_user_roles_grant"),
)

deployments = Table(
    "deployments", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("xml", LargeBinary, nullable=False),
    Column("spec_json", Text, nullable=False),
    Column("steps_json", Text, nullable=False),
    Column("meta_json", Text, nullable=False),
    Column("office", String(32), ForeignKey("offices.code")),
    Column("deployed_by", String(64)),
    Column("deployed_at", UtcDateTime, nullable=False),
    Column("note", Text),
    Column("retired_at", UtcDateTime),  # set: no new cases start on this version; running ones finish on it
    Column("retired_by", String(64)),
    Column("files_json", Text),  # the other files deployed with it (call activities): [{"filename", "xml"}]
    UniqueConstraint("key", "version", name="uq_deployments_key_version"),
)

# Which role does the work of a lane of an SOP, when it is not the role named like the lane.
lane_roles = Table(
    "lane_roles", metadata,
    Column("key", String(200), primary_key=True),
    Column("lane", String(200), primary_key=True),
    Column("role", String(200), nullable=False),
)

# Diagrams an analyst is working on in the modeler: saved freely, linted on demand, deployed by a deployer.
drafts = Table(
    "drafts", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("key", String(200)),  # the process id of the diagram as last saved
    Column("based_on_key", String(200)),
    Column("based_on_version", Integer),
    Column("xml", LargeBinary, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("row_version", Integer, nullable=False),
    Column("deployed_version", Integer),  # the version it became, once deployed
)

instances = Table(
    "instances", metadata,
    Column("id", Integer, primary_key=True),
    Column("deployment_id", Integer, ForeignKey("deployments.id"), nullable=False, index=True),
    Column("key", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("office", String(32), ForeignKey("offices.code")),
    Column("number", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("state", Text, nullable=False),
    Column("serializer_version", String(16), nullable=False),
    Column("row_version", Integer, nullable=False),
    Column("started_by", String(64)),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Index("ix_instances_status_key", "status", "key"),
    Index("ix_instances_office_id", "office", "id"),  # an admin's case list: newest first per office
)

work_items = Table(
    "work_items", metadata,
    Column("id", String(36), primary_key=True),
    Column("instance_id", Integer, ForeignKey("instances.id"), nullable=False),
    # The case's SOP, copied from instances.key (a case keeps its key for life, moved between versions or not): the
    # inbox's SOP filter reads it from the ready-items indexes instead of looking up each item's case (0011).
    Column("process_key", String(200), nullable=False),
    Column("step_id", String(200), nullable=False),
    Column("step_name", String(500), nullable=False),
    Column("lane", String(200)),
    Column("role", String(200)),
    Column("office", String(32)),
    Column("state", String(16), nullable=False),
    Column("ready_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("claimed_by", String(64)),
    Column("claimed_at", UtcDateTime),
    Column("completed_by", String(64)),
    Column("completed_at", UtcDateTime),
    # Kept equal to "the case is suspended" while the item is ready (engine/caseadmin.py), so the inbox needs no
    # look at the case per item (migration 0010).
    Column("suspended", Boolean, nullable=False, default=False, server_default=false()),
    # The inbox: ready items of a role in an office in its two orders (soonest due first, waiting longest first);
    # partial, so they hold the open work only, not every step ever done (migration 0008). claimed_by, suspended,
    # process_key and overdue come last (id is unique: the order stays the same): the capped count reads the index
    # alone, with or without the SOP and overdue filters (0010, 0011).
    Index("ix_work_items_ready_due", "role", "office", "due_at", "ready_at", "id", "claimed_by", "suspended",
          "process_key", "overdue", postgresql_where=text("state = 'ready'"), sqlite_where=text("state = 'ready'")),
    Index("ix_work_items_ready_waiting", "role", "office", "ready_at", "id", "claimed_by", "suspended",
          "process_key", "overdue", postgresql_where=text("state = 'ready'"), sqlite_where=text("state = 'ready'")),
    Index("ix_work_items_ready_claimed", "claimed_by",  # "Claimed by me"; a deactivated user's claims
          postgresql_where=text("state = 'ready'"), sqlite_where=text("state = 'ready'")),
    Index("ix_work_items_instance", "instance_id", "state"),
)

timers = Table(
    "timers", metadata,
    Column("id", String(36), primary_key=True),
    Column("instance_id", Integer, ForeignKey("instances.id"), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("work_item_id", String(36)),
    Column("kind", String(16), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    # The scheduler: waiting timers by due time.
    Index("ix_timers_due", "state", "due_at"),
    Index("ix_timers_instance", "instance_id", "state"),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("instance_id", Integer, ForeignKey("instances.id"), index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64)),
    Column("type", String(64), nullable=False),
    Column("step_id", String(200)),
    Column("data_json", Text, nullable=False),
)

counters = Table(
    "counters", metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Integer, nullable=False),
)

attachments = Table(
    "attachments", metadata,
    Column("id", String(36), primary_key=True),
    Column("instance_id", Integer, ForeignKey("instances.id"), nullable=False, index=True),
    Column("work_item_id", String(36)),
    Column("field", String(64), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
)

login_attempts = Table(
    "login_attempts", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Index("ix_login_attempts_username", "username", "at"),
    Index("ix_login_attempts_address", "address", "at"),
)

sessions = Table(
    "sessions", metadata,
    # A logged-in browser: the SHA-256 of the random id in its (signed) cookie, so a copy of this table opens none.
    Column("id_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),  # the absolute lifetime counts from here
    Column("last_seen_at", UtcDateTime, nullable=False),  # the idle timeout counts from here
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),  # step_ready | sla_breached | case_completed
    Column("recipient", String(64), nullable=False),
    Column("address", String(200), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("link", String(500)),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),  # while sending: the end of the claim's lease
    Column("last_error", Text),
    Column("sent_at", UtcDateTime),
    Column("instance_id", Integer, ForeignKey("instances.id")),
    # The sender: pending (and lease-expired sending) messages by due time.
    Index("ix_outbox_due", "state", "next_attempt_at"),
)
