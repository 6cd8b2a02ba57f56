"""office calendar: working hours per office and its own days off or working days

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('offices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule', sa.Text(), nullable=True))
    op.create_table(
        'office_days',
        sa.Column('office', sa.String(length=32), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['office'], ['offices.code'], name=op.f('fk_office_days_office_offices')),
        sa.PrimaryKeyConstraint('office', 'day', name=op.f('pk_office_days')),
    )


def downgrade():
    op.drop_table('office_days')
    with op.batch_alter_table('offices', schema=None) as batch_op:
        batch_op.drop_column('schedule')
