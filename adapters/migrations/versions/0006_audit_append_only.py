"""the audit trail is append-only in the database itself: UPDATE, DELETE (and TRUNCATE, REPLACE) are refused

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

A later migration that rebuilds `audit_events` on SQLite (batch_alter_table copies the table) drops these
triggers with the old table: such a migration must create them again.
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

MESSAGE = "audit_events is append-only: rows may be added, never changed or removed"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION alur_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
                   "FOR EACH ROW EXECUTE FUNCTION alur_audit_append_only()")
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION alur_audit_append_only()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_events_no_{action.lower()} BEFORE {action} ON audit_events "
                       f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
        # INSERT OR REPLACE / REPLACE INTO would delete the row with the same id without firing the DELETE trigger
        # (SQLite fires it only with recursive_triggers on): an insert may not reuse an existing id.
        op.execute("CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events "
                   "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id) "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION alur_audit_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_replace")
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
