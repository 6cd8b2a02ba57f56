"""administration: retired versions, lane to role mapping, modeler drafts, deactivation time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('retired_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('files_json', sa.Text(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', sa.DateTime(), nullable=True))
    op.create_index('ix_instances_office_id', 'instances', ['office', 'id'], unique=False)
    op.create_table(
        'lane_roles',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('lane', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('key', 'lane', name=op.f('pk_lane_roles')),
    )
    op.create_table(
        'drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=300), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=True),
        sa.Column('based_on_key', sa.String(length=200), nullable=True),
        sa.Column('based_on_version', sa.Integer(), nullable=True),
        sa.Column('xml', sa.LargeBinary(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('row_version', sa.Integer(), nullable=False),
        sa.Column('deployed_version', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')),
    )


def downgrade():
    op.drop_table('drafts')
    op.drop_table('lane_roles')
    op.drop_index('ix_instances_office_id', table_name='instances')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_column('files_json')
        batch_op.drop_column('retired_by')
        batch_op.drop_column('retired_at')
