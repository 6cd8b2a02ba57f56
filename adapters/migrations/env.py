"""Alembic environment: runs on the connection the composition root hands over."""

from alembic import context

from adapters.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations through `alur init`, which passes the configured database connection.")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
