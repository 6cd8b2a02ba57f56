"""Writes a unit of work defers (SqlUnitOfWork.defer: the case's save, audit events) go out together before the
commit, in one pipeline on PostgreSQL; a save whose case moved meanwhile fails the commit and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from engine import services
from engine.errors import StaleInstance
from engine.model import AuditEvent
from tests.conftest import add_user, fixture_file


def test_a_save_of_a_case_someone_saved_meanwhile_fails_at_commit_and_writes_nothing(app):
    add_user(app, "ana", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    case = services.start(app.uow(), "two_steps", actor="ana", office="T")
    with app.uow() as uow:
        events_before = len(uow.audit.for_instance(case.id))
    stale = app.uow()
    with stale:
        mine = stale.instances.get(case.id)  # read without the lock: someone else may save it
        if app.engine.dialect.name == "postgresql":
            with app.uow() as other:  # SQLite: the stale unit of work holds the database; no one else can write
                theirs = other.instances.get(case.id, lock=True)
                other.instances.save(theirs)
                other.commit()
        else:
            stale.conn.exec_driver_sql("UPDATE instances SET row_version = row_version + 1 WHERE id = ?", (case.id,))
        stale.audit.add(AuditEvent(case.id, services.utcnow(), "ana", "test_event"))
        mine.status = "cancelled"
        with pytest.raises(StaleInstance, match="changed by someone else"):  # SQLite: at once; PostgreSQL: at commit
            stale.instances.save(mine)
            stale.commit()
    with app.uow(write=False) as uow:
        assert uow.instances.get(case.id).status == "running"
        assert len(uow.audit.for_instance(case.id)) == events_before  # the deferred event went with the rollback


def test_deferred_audit_events_keep_their_order_and_are_written_at_commit(app):
    add_user(app, "ana", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    case = services.start(app.uow(), "two_steps", actor="ana", office="T")
    with app.uow() as uow:
        for n in range(5):
            uow.audit.add(AuditEvent(case.id, services.utcnow(), "ana", f"event_{n}"))
        uow.commit()
    with app.uow() as uow:
        uow.audit.add(AuditEvent(case.id, services.utcnow(), "ana", "never_committed"))
    with app.uow(write=False) as uow:
        types = [e.type for e in uow.audit.for_instance(case.id)]
    assert types[-5:] == [f"event_{n}" for n in range(5)] and "never_committed" not in types


def test_a_write_failing_in_the_commits_round_trip_lands_nothing_and_the_connection_stays_usable(app):
    """On PostgreSQL the deferred writes and the COMMIT go out together: a failing write skips the COMMIT."""
    add_user(app, "ana", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    first = services.start(app.uow(), "two_steps", actor="ana", office="T")
    second = services.start(app.uow(), "two_steps", actor="ana", office="T")
    with pytest.raises(IntegrityError, match="unique|UNIQUE"), app.uow() as uow:  # SQLAlchemy's, as elsewhere
        uow.audit.add(AuditEvent(first.id, services.utcnow(), "ana", "before_the_failure"))
        uow.instances.set_number(second.id, first.number)  # the number is taken: a unique violation
        uow.audit.add(AuditEvent(first.id, services.utcnow(), "ana", "after_the_failure"))
        uow.commit()
    with app.uow(write=False) as uow:
        types = {e.type for e in uow.audit.for_instance(first.id)}
        assert uow.instances.get(second.id).number == second.number
    assert not types & {"before_the_failure", "after_the_failure"}
    third = services.start(app.uow(), "two_steps", actor="ana", office="T")  # the pool's connections still work
    assert third.number.endswith("-0003")


def test_inside_deferring_what_is_sent_waits_for_the_commit(app):
    add_user(app, "ana", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    case = services.start(app.uow(), "two_steps", actor="ana", office="T")
    with app.uow() as uow:
        with uow.deferring():
            with uow.pipeline():
                uow.work_items.close([item.id for item in uow.work_items.open_for_instance(case.id)], "cancelled",
                                     services.utcnow())
            assert len(uow.work_items.open_for_instance(case.id)) == 1  # not sent yet
        uow.commit()
    with app.uow(write=False) as uow:
        assert uow.work_items.open_for_instance(case.id) == []


def test_deferring_nests_and_a_flush_inside_it_sends_what_waits(app):
    """A step's writes wait inside deferring() (services._sync_change), which a start's own deferring() encloses:
    leaving the inner one must not send the outer one's writes, and flush() sends them for a read that needs them."""
    add_user(app, "ana", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    case = services.start(app.uow(), "two_steps", actor="ana", office="T")
    ids = [item.id for item in services.work_for(app.uow(write=False), user="ana")]
    with app.uow() as uow:
        with uow.deferring():
            with uow.deferring():
                pass
            uow.work_items.close(ids, "cancelled", services.utcnow())
            assert len(uow.work_items.open_for_instance(case.id)) == 1  # still waiting
            uow.flush()
            assert uow.work_items.open_for_instance(case.id) == []  # sent, in this transaction
            uow.audit.add(AuditEvent(case.id, services.utcnow(), "ana", "after_the_flush"))
        uow.commit()
    with app.uow(write=False) as uow:
        assert uow.work_items.open_for_instance(case.id) == []
        assert "after_the_flush" in {e.type for e in uow.audit.for_instance(case.id)}
