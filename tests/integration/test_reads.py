"""adapters.reads: the hot reads run straight through psycopg on PostgreSQL, and give what SQLAlchemy gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.exc import DBAPIError

from adapters import reads
from adapters import tables as t
from engine import services
from tests.conftest import add_office, add_user, fixture_file

# Aware datetimes (UtcDateTime), a label, a literal the statement binds itself ('ready') and a bound parameter.
_ITEMS = (select(t.work_items, t.instances.c.number.label("case_number"))
          .join_from(t.work_items, t.instances, t.instances.c.id == t.work_items.c.instance_id)
          .where(t.work_items.c.state == "ready", t.work_items.c.ready_at >= bindparam("since"))
          .order_by(t.work_items.c.ready_at))
_COUNT = select(func.count()).select_from(t.work_items).where(t.work_items.c.office == bindparam("office"))


@pytest.fixture
def started(app):
    add_office(app, "T", "Kantor T")
    add_user(app, "ana", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    for _ in range(3):
        services.start(app.uow(), "two_steps", actor="ana")
    return app


def test_rows_are_what_sqlalchemy_reads_named_and_converted_alike(started):
    since = datetime.now(UTC) - timedelta(hours=1)
    with started.uow(write=False) as uow:
        expected = uow.conn.execute(_ITEMS, {"since": since}).all()
        got = reads.rows(uow.conn, _ITEMS, {"since": since})
        assert len(got) == 3
        assert [tuple(r) for r in got] == [tuple(r) for r in expected]
        assert got[0]._fields == expected[0]._fields
        assert got[0].case_number == expected[0].case_number
        assert got[0].ready_at.tzinfo is not None  # UtcDateTime's processor ran
        assert got[0].due_at == expected[0].due_at
        assert reads.rows(uow.conn, _ITEMS, {"since": datetime.now(UTC) + timedelta(hours=1)}) == []
        assert reads.first(uow.conn, _COUNT, {"office": "T"})[0] == 3
        assert reads.first(uow.conn, _ITEMS, {"since": datetime.now(UTC) + timedelta(hours=1)}) is None


def test_a_listener_on_the_engine_sees_every_read(started):
    seen = []

    def record(conn, cursor, statement, *rest):
        seen.append(statement)

    event.listen(started.engine, "before_cursor_execute", record)
    try:
        with started.uow(write=False) as uow:
            reads.rows(uow.conn, _COUNT, {"office": "T"})
    finally:
        event.remove(started.engine, "before_cursor_execute", record)
    assert [s for s in seen if s != "BEGIN"] == [str(_COUNT.compile(started.engine))]


def test_a_failing_read_raises_sqlalchemys_error_and_the_unit_of_work_goes_on_cleanly(started):
    broken = select(t.work_items.c.id).where(t.work_items.c.id == bindparam("item")).where(
        func.no_such_function(t.work_items.c.id) == 1)
    with started.uow() as uow, pytest.raises(DBAPIError):
        reads.rows(uow.conn, broken, {"item": "x"})
    with started.uow(write=False) as uow:  # the connection went back to the pool usable
        assert reads.first(uow.conn, _COUNT, {"office": "T"})[0] == 3


def test_a_read_inside_a_write_sees_the_transactions_own_changes(started):
    with started.uow() as uow:
        uow.conn.execute(t.work_items.update().where(t.work_items.c.office == "T").values(office="U"))
        assert reads.first(uow.conn, _COUNT, {"office": "U"})[0] == 3
        uow.conn.rollback()
    with started.uow(write=False) as uow:
        assert reads.first(uow.conn, _COUNT, {"office": "U"})[0] == 0
