"""performance: the inbox reads ready work items through partial indexes, in the order it shows them

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

ix_work_items_inbox (state, role, office, due_at) held every work item ever made, mostly completed ones, and
could not give the inbox its order (due time, then waiting time, then id). The partial indexes hold only the ready
items, per role and office, in the inbox's two sort orders, so a page reads its 25 rows in index order and the
capped count stops at its limit, whatever the number of open cases; "Claimed by me" and a deactivated user's
claims go straight to the user's ready items. Both backends support partial indexes.
On PostgreSQL CREATE INDEX takes a write lock on work_items while it builds (seconds for a million rows): run the
upgrade in a quiet moment.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

READY = sa.text("state = 'ready'")


def upgrade():
    op.create_index('ix_work_items_ready_due', 'work_items', ['role', 'office', 'due_at', 'ready_at', 'id'],
                    unique=False, postgresql_where=READY, sqlite_where=READY)
    op.create_index('ix_work_items_ready_waiting', 'work_items', ['role', 'office', 'ready_at', 'id'],
                    unique=False, postgresql_where=READY, sqlite_where=READY)
    op.create_index('ix_work_items_ready_claimed', 'work_items', ['claimed_by'],
                    unique=False, postgresql_where=READY, sqlite_where=READY)
    op.drop_index('ix_work_items_inbox', table_name='work_items')


def downgrade():
    op.create_index('ix_work_items_inbox', 'work_items', ['state', 'role', 'office', 'due_at'], unique=False)
    op.drop_index('ix_work_items_ready_claimed', table_name='work_items')
    op.drop_index('ix_work_items_ready_waiting', table_name='work_items')
    op.drop_index('ix_work_items_ready_due', table_name='work_items')
