"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters import bootstrap, tables


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
