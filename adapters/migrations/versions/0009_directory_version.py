"""directory version: a counter the database bumps at every change of offices, calendars, users, grants and lane
roles; on PostgreSQL the case state is compressed with lz4

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

Each process keeps what a step reads from the directory (the actor's grants, the office and its calendar, the lane
roles, the holders to notify) as of one value of `counters.directory` (adapters/directory.py DirectoryCache); a step
reads the value with its lock, so one changed grant anywhere makes every process read afresh. Triggers keep the
counter, whatever writes (the web UI, the CLI, SQL by hand). A later migration that rebuilds one of these tables on
SQLite (batch_alter_table copies the table) drops its triggers with the old table: it must create them again.

On PostgreSQL 14 and later with lz4, `instances.state` (tens of KiB of JSON per case, rewritten at every step) is
compressed with lz4 instead of pglz: the same size, at about half the cost per save. Rows already stored keep
their compression until their next save.
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ("offices", "office_days", "users", "user_roles", "lane_roles")


def upgrade():
    bind = op.get_bind()
    op.execute("INSERT INTO counters (name, value) SELECT 'directory', 1 "
               "WHERE NOT EXISTS (SELECT 1 FROM counters WHERE name = 'directory')")
    if bind.dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION alur_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE counters SET value = value + 1 WHERE name = 'directory';
                RETURN NULL;
            END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_directory_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION alur_directory_changed()")
        lz4 = bind.exec_driver_sql("SELECT current_setting('server_version_num')::int >= 140000").scalar()
        if lz4:
            try:
                with bind.begin_nested():  # a server built without lz4 refuses: pglz stays
                    op.execute("ALTER TABLE instances ALTER COLUMN state SET COMPRESSION lz4")
            except Exception:  # noqa: BLE001, S110 - the compression is an optimisation, never a requirement
                pass
    else:
        for table in TABLES:
            for action in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_directory_{action.lower()} AFTER {action} ON {table} "
                           "BEGIN UPDATE counters SET value = value + 1 WHERE name = 'directory'; END")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_directory_changed ON {table}")
        op.execute("DROP FUNCTION alur_directory_changed()")
        if bind.exec_driver_sql("SELECT current_setting('server_version_num')::int >= 140000").scalar():
            op.execute("ALTER TABLE instances ALTER COLUMN state SET COMPRESSION default")
    else:
        for table in TABLES:
            for action in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"DROP TRIGGER {table}_directory_{action.lower()}")
    op.execute("DELETE FROM counters WHERE name = 'directory'")
