"""the SOP of a work item: work_items.process_key, copied from its case; it and overdue end the inbox indexes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

The inbox's SOP filter looked up each ready item's case to read its key, so at 100k open cases the capped count
(501 items of one SOP) visited a few thousand cases, and the filtered inbox grew with the open work (B4: median 2.4 ms
at 1k, 4.3 ms at 100k) where every other view stays flat. A case keeps its key for life (a migration moves it
between versions of one SOP), so each item carries a copy, set when the item is made, and the two inbox indexes end
with it and with the overdue flag: the count reads the index alone with either filter too (the overdue view, which
reads `overdue OR due_at <= now`, visited the table for each item it counted: p95 5.2 ms at 1k, 8.3 ms at 100k).
Every existing item, done or ready, gets its case's key here.
On PostgreSQL the column is filled with one UPDATE of every work item and the indexes are rebuilt, with a write lock
on work_items (tens of seconds for a million rows): run the upgrade in a quiet moment.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

READY = sa.text("state = 'ready'")
INDEXES = {"ix_work_items_ready_due": ["role", "office", "due_at", "ready_at", "id", "claimed_by", "suspended"],
           "ix_work_items_ready_waiting": ["role", "office", "ready_at", "id", "claimed_by", "suspended"]}


def _indexes(extra):
    for name, columns in INDEXES.items():
        op.create_index(name, "work_items", [*columns, *extra], unique=False, postgresql_where=READY,
                        sqlite_where=READY)


def _drop_partial_indexes():
    # SQLite alters a column by copying the table; its partial indexes are dropped first and made again after, so
    # the copy cannot lose their WHERE clause.
    for name in (*INDEXES, "ix_work_items_ready_claimed"):
        op.drop_index(name, table_name="work_items")


def upgrade():
    op.add_column("work_items", sa.Column("process_key", sa.String(200), nullable=True))
    op.execute("UPDATE work_items SET process_key = (SELECT key FROM instances WHERE instances.id = "
               "work_items.instance_id)")
    _drop_partial_indexes()
    with op.batch_alter_table("work_items") as batch:
        batch.alter_column("process_key", existing_type=sa.String(200), nullable=False)
    _indexes(["process_key", "overdue"])
    op.create_index("ix_work_items_ready_claimed", "work_items", ["claimed_by"], unique=False,
                    postgresql_where=READY, sqlite_where=READY)


def downgrade():
    _drop_partial_indexes()
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("process_key")
    _indexes([])
    op.create_index("ix_work_items_ready_claimed", "work_items", ["claimed_by"], unique=False,
                    postgresql_where=READY, sqlite_where=READY)
