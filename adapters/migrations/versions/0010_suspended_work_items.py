"""suspended work items: a ready item says whether its case is suspended, and the inbox indexes end with
claimed_by and suspended

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21

The inbox hid a suspended case's steps by looking the case up for every ready item it counted: at 100k open cases
the capped count (501 items) spent most of its time there. The flag is kept by suspend and resume
(engine/caseadmin.py) and set on items made while the case is suspended; with claimed_by it ends the two inbox
indexes (after id, which is unique: their order is unchanged), so the count reads the index alone. Existing ready
items of suspended cases are flagged here.
On PostgreSQL the indexes are rebuilt with a write lock on work_items (seconds for a million rows): run the
upgrade in a quiet moment.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

READY = sa.text("state = 'ready'")
INDEXES = {"ix_work_items_ready_due": ["role", "office", "due_at", "ready_at", "id"],
           "ix_work_items_ready_waiting": ["role", "office", "ready_at", "id"]}


def upgrade():
    op.add_column("work_items", sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE work_items SET suspended = true WHERE state = 'ready' AND instance_id IN "
               "(SELECT id FROM instances WHERE status = 'suspended')")
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="work_items")
        op.create_index(name, "work_items", [*columns, "claimed_by", "suspended"], unique=False,
                        postgresql_where=READY, sqlite_where=READY)


def downgrade():
    for name, columns in INDEXES.items():
        op.drop_index(name, table_name="work_items")
        op.create_index(name, "work_items", columns, unique=False, postgresql_where=READY, sqlite_where=READY)
    with op.batch_alter_table("work_items") as batch:
        batch.drop_column("suspended")
