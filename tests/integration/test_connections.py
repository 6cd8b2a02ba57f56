"""Pooled PostgreSQL connections: tested before use only after sitting idle, and replaced when found dead."""

from __future__ import annotations

from sqlalchemy import event, text

from adapters import sql


def _statements(engine):
    seen = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_connection_in_steady_use_is_not_pinged(postgres_schema_factory):
    engine = sql.make_engine(postgres_schema_factory())
    seen = _statements(engine)
    for _ in range(5):
        with engine.connect() as conn:
            conn.execute(text("SELECT 2"))
    engine.dispose()
    assert seen == ["SELECT 2"] * 5  # pool_pre_ping would have sent a ping before each


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(postgres_schema_factory, monkeypatch):
    engine = sql.make_engine(postgres_schema_factory())
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with sql.make_engine(postgres_schema_factory()).connect() as admin:  # the server ends that session
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
    monkeypatch.setattr(sql, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle "long enough"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()
