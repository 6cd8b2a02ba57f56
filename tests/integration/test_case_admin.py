"""An office admin suspends, resumes and cancels cases, with a reason, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import caseadmin, casefile, services, worklist
from engine.errors import FormInvalid, NotPermitted, TaskNotReady
from engine.worklist import InboxQuery
from tests.conftest import add_office, add_user, fixture_file

T0 = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)  # two_steps_timer.bpmn: step A has a standard time of PT2S


@pytest.fixture
def case(app):
    """A running two_steps case in office T started by ana at T0; `boss` is T's admin, `uboss` U's."""
    add_office(app, "U", "Kantor Lain")
    add_user(app, "ana", ("Klien", "T"))
    add_user(app, "boss", ("admin", "T"))
    add_user(app, "uboss", ("admin", "U"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    return services.start(app.uow(), "two_steps", actor="ana", clock=lambda: T0)


def details(app, case_id):
    return services.show(app.uow(write=False), case_id)


def ready_item(app, case_id):
    [item] = [w for w in details(app, case_id)["work_items"] if w.state == "ready"]
    return item


def test_a_suspended_case_keeps_its_steps_out_of_every_inbox_and_refuses_them_with_a_clear_reason(app, case):
    item = ready_item(app, case.id)
    held = caseadmin.suspend(app.uow(), case.id, actor="boss", reason="  Berkas   dicek ulang ", clock=lambda: T0)
    assert held.status == "suspended" and held.ended_at is None
    assert worklist.inbox(app.uow(write=False), "ana", InboxQuery()) == ([], 0)
    assert services.work_for(app.uow(write=False), user="ana") == []
    for attempt in (lambda: worklist.claim(app.uow(), item.id, actor="ana"),
                    lambda: services.complete(app.uow(), item.id, actor="ana")):
        with pytest.raises(TaskNotReady, match="is suspended by an admin: its steps wait until it is resumed"):
            attempt()
    task = casefile.task_view(app.uow(write=False), item.id, viewer="ana")
    assert not (task.may_complete or task.may_claim)
    event = details(app, case.id)["history"][-1]
    assert (event.type, event.actor, event.data["reason"]) == ("instance_suspended", "boss", "Berkas dicek ulang")

    caseadmin.resume(app.uow(), case.id, actor="boss", reason="Berkas lengkap")
    assert worklist.inbox(app.uow(write=False), "ana", InboxQuery())[1] == 1
    services.complete(app.uow(), item.id, actor="ana")
    assert [e.type for e in details(app, case.id)["history"]][-3:] == [
        "instance_suspended", "instance_resumed", "task_completed"]


def test_a_reason_is_required_and_only_an_admin_of_the_cases_office_may_hold_it(app, case):
    with pytest.raises(FormInvalid) as err:
        caseadmin.suspend(app.uow(), case.id, actor="boss", reason="   ")
    assert set(err.value.fields) == {"reason"} and str(err.value.fields["reason"]) == "This field is required."
    for actor in ("uboss", "ana"):
        with pytest.raises(NotPermitted, match="Only an admin of office T"):
            caseadmin.cancel(app.uow(), case.id, actor=actor, reason="salah input")
    assert details(app, case.id)["instance"].status == "running"


def test_the_case_view_says_who_may_administer_it(app, case):
    assert casefile.case_view(app.uow(write=False), case.id, viewer="boss").may_administer is True
    assert casefile.case_view(app.uow(write=False), case.id, viewer="ana").may_administer is False


def test_a_suspended_cases_timer_waits_and_fires_on_the_first_sweep_after_it_is_resumed(app, case):
    caseadmin.suspend(app.uow(), case.id, actor="boss", reason="menunggu klarifikasi", clock=lambda: T0)
    later = T0 + timedelta(seconds=10)
    assert services.fire_due_timers(app.uow, clock=lambda: later) == 0
    assert [t.state for t in details(app, case.id)["timers"]] == ["waiting"]
    assert "sla_breached" not in [e.type for e in details(app, case.id)["history"]]

    caseadmin.resume(app.uow(), case.id, actor="boss", reason="klarifikasi diterima", clock=lambda: later)
    assert services.fire_due_timers(app.uow, clock=lambda: later) == 1
    assert ready_item(app, case.id).overdue
    assert [e.type for e in details(app, case.id)["history"]][-3:] == [
        "instance_resumed", "timer_fired", "sla_breached"]


def test_a_cancelled_case_ends_its_open_steps_and_timers_and_can_never_run_again(app, case):
    item = ready_item(app, case.id)
    caseadmin.suspend(app.uow(), case.id, actor="boss", reason="pemohon tidak hadir")
    ended = caseadmin.cancel(app.uow(), case.id, actor="boss", reason="pemohon menarik permohonan",
                             clock=lambda: T0 + timedelta(minutes=5))
    assert (ended.status, ended.ended_at) == ("cancelled", T0 + timedelta(minutes=5))
    shown = details(app, case.id)
    assert [(w.id, w.state) for w in shown["work_items"]] == [(item.id, "cancelled")]
    assert shown["timers"] == []
    assert services.fire_due_timers(app.uow, clock=lambda: T0 + timedelta(hours=1)) == 0
    assert shown["history"][-1].data["reason"] == "pemohon menarik permohonan"
    for action in (caseadmin.resume, caseadmin.suspend, caseadmin.cancel):
        with pytest.raises(TaskNotReady, match="is cancelled"):
            action(app.uow(), case.id, actor="boss", reason="coba lagi")
    with pytest.raises(TaskNotReady, match="can no longer be done"):
        services.complete(app.uow(), item.id, actor="ana")


def test_only_a_suspended_case_can_be_resumed(app, case):
    with pytest.raises(TaskNotReady, match="only a case that is suspended can be resumed"):
        caseadmin.resume(app.uow(), case.id, actor="boss", reason="lanjut")
