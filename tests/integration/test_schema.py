"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters import bootstrap, tables
from engine import services
from tests.conftest import fixture_file


def test_the_migrations_create_the_schema_the_tables_module_declares(app):
    with app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diff == []
    assert bootstrap.schema_is_current(app)


def test_the_head_read_from_the_migration_files_is_alembics_own():
    from alembic.script import ScriptDirectory

    assert bootstrap.schema_heads() == set(ScriptDirectory.from_config(bootstrap._config()).get_heads())
    assert len(bootstrap.schema_heads()) == 1


def test_an_empty_database_is_not_current(database_url, tmp_path):
    empty = bootstrap.build({"ALUR_DATABASE_URL": database_url, "ALUR_DATA_DIR": str(tmp_path / "data")})
    try:
        assert not bootstrap.schema_is_current(empty)
    finally:
        empty.engine.dispose()


def test_a_command_line_run_does_not_import_alembic():
    """Alembic (with Mako and its plugins) loads only where the schema changes; every other command starts faster."""
    import subprocess
    import sys

    code = "import sys, adapters.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture
def migrations(database_url, tmp_path):
    """An Alur database without a schema, and migrate(command, revision): one Alembic command run on it."""
    alur = bootstrap.build({"ALUR_DATABASE_URL": database_url, "ALUR_DATA_DIR": str(tmp_path / "data")})
    config = bootstrap._config()

    def migrate(step, revision):
        with alur.engine.begin() as conn:
            config.attributes["connection"] = conn
            step(config, revision)

    yield alur, migrate
    alur.engine.dispose()


def _old_rows(conn, cases: dict[int, tuple[dict, dict]]) -> None:
    """Cases and their work items as an older revision's schema holds them (written in SQL: the tables module
    declares the newest schema). `cases` maps a case's id to (its columns, its items' columns) beyond the common
    ones; each case gets a ready item '<case>a' and a completed one '<case>b'."""
    from sqlalchemy import text

    def insert(table, values):
        conn.execute(text(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(':' + c for c in values)})"),
                     values)

    deployment = conn.execute(text("SELECT id FROM deployments")).scalar_one()
    for case, (own, items) in cases.items():
        insert("instances", {"id": case, "deployment_id": deployment, "key": "k", "version": 1, "number": f"K-{case}",
                             "status": "running", "state": "{}", "serializer_version": "1", "row_version": 1,
                             "started_at": "2026-01-01 00:00:00", **own})
        for item, state in ((f"{case}a", "ready"), (f"{case}b", "completed")):
            insert("work_items", {"id": item, "instance_id": case, "step_id": "s", "step_name": "S", "state": state,
                                  "ready_at": "2026-01-01 00:00:00", "overdue": False, **items})


def test_migration_0010_flags_the_ready_steps_of_cases_suspended_before_it_and_downgrades(migrations):
    """Before 0010 the inbox looked a suspended case up per item; the upgrade flags the ready items of the cases
    suspended then, so they stay out of the inbox, and the downgrade gives the old schema back."""
    from alembic import command
    from sqlalchemy import text

    alur, migrate = migrations
    migrate(command.upgrade, "0009")
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")])  # touches no work item
    with alur.engine.begin() as conn:
        _old_rows(conn, {1: ({"status": "running"}, {}), 2: ({"status": "suspended"}, {})})
    migrate(command.upgrade, "0010")
    with alur.engine.connect() as conn:
        flagged = dict(conn.execute(text("SELECT id, suspended FROM work_items ORDER BY id")).all())
    assert flagged == {"1a": False, "1b": False, "2a": True, "2b": False}
    migrate(command.downgrade, "0009")
    with alur.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM work_items")).scalar() == 4


def _partial_indexes(conn) -> dict[str, str]:
    """The work_items indexes with their definitions, as the database keeps them."""
    from sqlalchemy import text

    if conn.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'work_items'"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'work_items' " \
                "AND schemaname = current_schema()"
    return {name: definition for name, definition in conn.execute(text(query))
            if name.startswith("ix_work_items_ready")}


def test_migration_0011_gives_every_work_item_its_cases_key_and_keeps_the_inbox_indexes_partial(migrations):
    """Before 0011 the inbox's SOP filter looked each item's case up; the upgrade copies the case's key into every
    item, done or ready, and makes the ready-items indexes again ending with it and the overdue flag, still only over
    the ready items (SQLite copies the table to make the column NOT NULL); the downgrade gives the old schema back."""
    from alembic import command
    from sqlalchemy import text

    alur, migrate = migrations
    migrate(command.upgrade, "0010")
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")])
    with alur.engine.begin() as conn:
        mine = {"role": "Klien", "office": "T"}
        _old_rows(conn, {1: ({"key": "sop_a"}, mine), 2: ({"key": "sop_b"}, {**mine, "claimed_by": "ana"})})
    migrate(command.upgrade, "0011")
    with alur.engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT id, process_key FROM work_items ORDER BY id")).all())
        indexes = _partial_indexes(conn)
    assert keys == {"1a": "sop_a", "1b": "sop_a", "2a": "sop_b", "2b": "sop_b"}
    assert sorted(indexes) == ["ix_work_items_ready_claimed", "ix_work_items_ready_due",
                               "ix_work_items_ready_waiting"]
    for name, definition in indexes.items():
        assert "WHERE" in definition and "ready" in definition, definition
        inbox = name != "ix_work_items_ready_claimed"
        assert ("process_key" in definition and "overdue" in definition) == inbox, definition
    with alur.engine.connect() as conn:  # the claimed item stays findable through the claims index
        assert conn.execute(text("SELECT id FROM work_items WHERE claimed_by = 'ana' AND state = 'ready'")) \
            .scalars().all() == ["2a"]
    migrate(command.downgrade, "0010")
    with alur.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM work_items")).scalar() == 4
        columns = list(conn.execute(text("SELECT * FROM work_items")).keys())
        indexes = _partial_indexes(conn)
    assert "process_key" not in columns
    assert len(indexes) == 3 and all("WHERE" in d and "process_key" not in d for d in indexes.values())
    migrate(command.upgrade, "head")
    with alur.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.metadata) == []
