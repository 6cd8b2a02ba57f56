"""server-side sessions: logout, deactivation and a new password end them at once

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['username'], ['users.username'], name=op.f('fk_sessions_username_users')),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_sessions')),
    )
    op.create_index(op.f('ix_sessions_username'), 'sessions', ['username'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_sessions_username'), table_name='sessions')
    op.drop_table('sessions')
