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
