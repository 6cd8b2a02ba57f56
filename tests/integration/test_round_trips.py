"""How often a step and a start wait for PostgreSQL: counted on the wire, by a proxy between Alur and the server.

Each round trip costs a step its latency, about 0.1-0.4 ms on this machine (B1, B3): a completed step makes two
(its BEGIN goes with the lock of its case and item, its writes with the COMMIT), a started case three (its BEGIN
with the read of the version, its row and number in one statement, its other writes with the COMMIT).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine import services
from engine.model import AuditEvent
from tests.conftest import add_office, add_user, fixture_file, make_app
from tests.roundtrips import RoundTripProxy

WARM_UP = 8  # psycopg prepares a statement at its fifth run, in a round trip of its own: counted after that


@pytest.fixture
def proxied(postgres_schema_factory, tmp_path):
    """An Alur on a fresh PostgreSQL schema whose every connection goes through a RoundTripProxy."""
    proxy = RoundTripProxy(postgres_schema_factory())
    alur = make_app(proxy.url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    add_user(alur, "ana", ("Klien", "T"), ("Duta", "T"))
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    yield alur, proxy
    alur.engine.dispose()
    proxy.close()


def _counted(proxy, action):
    before = proxy.turns
    result = action()
    return proxy.turns - before, result


def _first_item(alur, case):
    with alur.uow(write=False) as uow:
        return uow.work_items.open_for_instance(case.id)[0].id


def test_a_start_waits_three_times_and_a_completed_step_twice(proxied):
    alur, proxy = proxied
    cases = [services.start(alur.uow(), "two_steps", actor="ana", office="T") for _ in range(WARM_UP)]
    started, case = _counted(proxy, lambda: services.start(alur.uow(), "two_steps", actor="ana", office="T"))
    items = [_first_item(alur, c) for c in [*cases, case]]
    for item in items[:-1]:
        services.complete(alur.uow(), item, actor="ana")
    completed, _ = _counted(proxy, lambda: services.complete(alur.uow(), items[-1], actor="ana"))
    assert (started, completed) == (3, 2)
    with alur.uow(write=False) as uow:  # and what they wrote is there
        assert [i.step_id for i in uow.work_items.open_for_instance(case.id)] == ["B"]
        assert {"instance_started", "task_completed"} <= {e.type for e in uow.audit.for_instance(case.id)}


def _other_connection_sees(alur, sql, **params):
    with alur.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn.execute(text(sql), params).all()


@pytest.mark.parametrize("first", ["sqlalchemy", "reads", "pipeline"])
def test_a_writing_unit_of_work_is_one_transaction_whichever_way_its_first_statement_goes(proxied, first):
    """Its BEGIN goes with its first statement, not before it: through SQLAlchemy, reads.rows or a pipeline, the
    statements after it are still in its transaction (its locks held, its writes unseen and undone at the end)."""
    alur, _ = proxied
    case = services.start(alur.uow(), "two_steps", actor="ana", office="T")
    item = _first_item(alur, case)
    with alur.uow() as uow:
        if first == "sqlalchemy":
            uow.conn.execute(text("UPDATE instances SET status = 'suspended' WHERE id = :id"), {"id": case.id})
        elif first == "reads":
            uow.instances.lock_item(item)
            locked = "SELECT id FROM instances WHERE id = :id FOR UPDATE SKIP LOCKED"
            assert _other_connection_sees(alur, locked, id=case.id) == []  # the lock outlived its statement
        else:
            uow.audit.add(AuditEvent(case.id, services.utcnow(), "ana", "never_committed"))
            uow.flush()
        uow.conn.execute(text("UPDATE instances SET ended_at = now() WHERE id = :id"), {"id": case.id})
        unseen = "SELECT id FROM instances WHERE id = :id AND ended_at IS NOT NULL"
        assert _other_connection_sees(alur, unseen, id=case.id) == []
        # ... and the unit of work ends without committing
    with alur.uow(write=False) as uow:
        after = uow.instances.get(case.id)
        assert (after.status, after.ended_at) == ("running", None)
        assert "never_committed" not in {e.type for e in uow.audit.for_instance(case.id)}
    services.complete(alur.uow(), item, actor="ana")  # the connection went back to the pool in order
    with alur.uow(write=False) as uow:
        assert [i.step_id for i in uow.work_items.open_for_instance(case.id)] == ["B"]
