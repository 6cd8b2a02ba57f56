"""Claiming, releasing, reassigning, the inbox query, form data and progress, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine import casefile, services, worklist
from engine.errors import NotFound, NotPermitted
from engine.worklist import InboxQuery
from tests.conftest import add_office, add_user, fixture_file


@pytest.fixture
def office_app(app):
    add_office(app, "U", "Kantor Lain")
    add_user(app, "ana", ("Klien", "T"))
    add_user(app, "ani", ("Klien", "T"))
    add_user(app, "uno", ("Klien", "U"))
    add_user(app, "duta", ("Duta", "T"))
    add_user(app, "boss", ("admin", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    return app


def inbox(app, user, **query):
    entries, total = worklist.inbox(app.uow(write=False), user, InboxQuery(**query))
    return [e.item.id for e in entries], total


def test_a_claimed_item_is_hidden_from_the_other_holders_of_the_role_until_released(office_app):
    app = office_app
    case = services.start(app.uow(), "two_steps", actor="ana")
    [item], _ = inbox(app, "ana")
    assert inbox(app, "ani")[0] == [item]
    assert inbox(app, "uno") == ([], 0)  # the same role in another office
    worklist.claim(app.uow(), item, actor="ana")
    assert inbox(app, "ani") == ([], 0)
    assert inbox(app, "ana", mine=True) == ([item], 1)
    with pytest.raises(NotPermitted, match="already claimed by ana"):
        worklist.claim(app.uow(), item, actor="ani")
    with pytest.raises(NotPermitted, match="claimed by ana"):
        services.complete(app.uow(), item, actor="ani")
    with pytest.raises(NotPermitted, match="Only ana or an admin"):
        worklist.release(app.uow(), item, actor="ani")
    worklist.release(app.uow(), item, actor="ana")
    assert inbox(app, "ani", unclaimed=True) == ([item], 1)
    history = [e.type for e in services.show(app.uow(write=False), case.id)["history"]]
    assert history[-2:] == ["task_claimed", "task_released"]


def test_releasing_an_unclaimed_step_changes_nothing_and_is_refused_to_whoever_does_not_hold_its_role(office_app):
    app = office_app
    case = services.start(app.uow(), "two_steps", actor="ana")
    [item], _ = inbox(app, "ana")
    with pytest.raises(NotPermitted, match="does not hold the role 'Klien'"):
        worklist.release(app.uow(), item, actor="duta")  # same office, another role
    assert worklist.release(app.uow(), item, actor="ana").claimed_by is None
    assert worklist.release(app.uow(), item, actor="boss").claimed_by is None
    history = [e.type for e in services.show(app.uow(write=False), case.id)["history"]]
    assert "task_released" not in history


def test_an_admin_of_the_office_reassigns_only_to_a_holder_of_the_role(office_app):
    app = office_app
    services.start(app.uow(), "two_steps", actor="ana")
    [item], _ = inbox(app, "ana")
    with pytest.raises(NotPermitted, match="Only an admin"):
        worklist.reassign(app.uow(), item, actor="ana", to_user="ani")
    with pytest.raises(NotPermitted, match="does not hold the role 'Klien'"):
        worklist.reassign(app.uow(), item, actor="boss", to_user="duta")
    worklist.reassign(app.uow(), item, actor="boss", to_user="ani")
    assert inbox(app, "ana") == ([], 0)
    assert inbox(app, "ani", mine=True) == ([item], 1)


def test_the_inbox_filters_sorts_and_pages_in_the_database(office_app):
    app = office_app
    base = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    for n in range(7):
        services.start(app.uow(), "two_steps", actor="ana", clock=lambda n=n: base + timedelta(minutes=n))
    ids, total = inbox(app, "ana", per_page=3)
    assert total == 7 and len(ids) == 3
    page3, _ = inbox(app, "ana", per_page=3, page=3)
    assert len(page3) == 1
    everything = inbox(app, "ana", per_page=50)[0]
    assert set(everything) == set(ids) | set(inbox(app, "ana", per_page=3, page=2)[0]) | set(page3)
    entries, _ = worklist.inbox(app.uow(write=False), "ana", InboxQuery(per_page=50))
    dues = [e.item.due_at for e in entries]
    assert dues == sorted(dues)
    assert entries[0].number.startswith("TWOSTEPS-2027-") and entries[0].timezone == "Asia/Jakarta"
    assert inbox(app, "ana", key="other")[1] == 0
    overdue, total = worklist.inbox(app.uow(write=False), "ana", InboxQuery(overdue=True),
                                    clock=lambda: base + timedelta(minutes=3, seconds=1))
    assert total == 3  # the first three were due 2 s after their start


def test_only_the_form_fields_reach_the_case_and_the_rest_of_the_entry_goes_to_the_history(app):
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "kas", ("Kasubbag", "T"))
    services.deploy(app.uow(), [fixture_file("failing_condition.bpmn")], office="T")
    case = services.start(app.uow(), "broken_gate", actor="pel", data={"injected": "x"})
    [draft] = [w for w in services.show(app.uow(write=False), case.id)["work_items"] if w.state == "ready"]
    services.complete(app.uow(), draft.id, actor="pel",
                      data={"kelengkapan": ["Disposisi"], "catatan": "  siap  ", "spiff_internal": 1})
    with app.uow(write=False) as uow:
        state = json.loads(uow.instances.get(case.id).state)
    assert "injected" not in json.dumps(state) and "spiff_internal" not in json.dumps(state)
    assert "catatan" not in json.dumps(state)  # derived-form entries are history, not case variables
    done = [e for e in services.show(app.uow(write=False), case.id)["history"] if e.type == "task_completed"]
    assert done[0].data["data"] == {"kelengkapan": ["Disposisi"], "catatan": "siap"}


def test_the_case_view_counts_main_path_steps_and_standard_time(office_app):
    app = office_app
    start = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    case = services.start(app.uow(), "two_steps", actor="ana", clock=lambda: start)
    view = casefile.case_view(app.uow(write=False), case.id, viewer="ana", clock=lambda: start + timedelta(seconds=1))
    assert (view.progress.done, view.progress.total, view.progress.standard) == (0, 2, "PT2S")
    assert view.progress.deadline == start + timedelta(seconds=2)
    assert view.progress.used == pytest.approx(0.5)
    assert view.markers == {"A": "active"}
    with pytest.raises(NotFound, match=f"No case '{case.id}'"):  # another office: as if there were no such case
        casefile.case_view(app.uow(write=False), case.id, viewer="uno")
    add_user(app, "arsip", ("Arsiparis", "T"))
    with pytest.raises(NotPermitted):  # the same office, without a role of the case
        casefile.case_view(app.uow(write=False), case.id, viewer="arsip")


def test_an_office_bound_sop_cannot_be_started_in_another_office(office_app):
    add_user(office_app, "admin_u", ("admin", None))
    with pytest.raises(NotPermitted, match="SOP of office T"):
        services.start(office_app.uow(), "two_steps", actor="admin_u", office="U")


START_FORM = ('<bpmn:startEvent id="s"><bpmn:extensionElements><camunda:formData>'
              '<camunda:formField id="nama_pemohon" label="Nama pemohon" type="string">'
              '<camunda:validation><camunda:constraint name="required"/></camunda:validation></camunda:formField>'
              '<camunda:formField id="jumlah" label="Jumlah berkas" type="long">'
              '<camunda:validation><camunda:constraint name="min" config="1"/></camunda:validation></camunda:formField>'
              '</camunda:formData></bpmn:extensionElements></bpmn:startEvent>')


def test_a_start_form_is_validated_and_only_its_fields_start_the_case(office_app):
    from engine.errors import FormInvalid

    name, data = fixture_file("two_steps_timer.bpmn")
    text = data.decode().replace('<bpmn:startEvent id="s"/>', START_FORM).replace('id="two_steps"', 'id="dengan_form"')
    text = text.replace("xmlns:bpmn=", 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:bpmn=', 1)
    services.deploy(office_app.uow(), [("dengan_form.bpmn", text.encode())], office="T")
    with pytest.raises(FormInvalid) as err:
        services.start(office_app.uow(), "dengan_form", actor="ana", data={"jumlah": "0"})
    assert set(err.value.fields) == {"nama_pemohon", "jumlah"} and err.value.values["jumlah"] == "0"
    case = services.start(office_app.uow(), "dengan_form", actor="ana",
                          data={"nama_pemohon": " Siti ", "jumlah": "2", "lain": "x"})
    started = services.show(office_app.uow(write=False), case.id)["history"][0]
    assert started.data["data"] == {"nama_pemohon": "Siti", "jumlah": 2}


def test_the_pages_of_a_case_read_it_without_its_workflow_state(office_app):
    app = office_app
    start = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    case = services.start(app.uow(), "two_steps", actor="ana", clock=lambda: start)
    with app.uow(write=False) as uow:
        whole, header = uow.instances.get(case.id), uow.instances.get_header(case.id)
        assert uow.instances.get_header(case.id + 1000) is None
    assert whole.state and header.state is None  # a header can be shown, never loaded or saved
    assert {**vars(header), "state": whole.state} == vars(whole)
    [item], _ = inbox(app, "ana")
    later = lambda: start + timedelta(seconds=1)  # noqa: E731
    task = casefile.task_view(app.uow(write=False), item, viewer="ana", clock=later)
    page = casefile.case_view(app.uow(write=False), case.id, viewer="ana", clock=later)
    assert task.case.instance == page.instance == header
    with app.uow(write=False) as uow:
        assert task.item == uow.work_items.get(item)
        assert uow.instances.get_header_with_item(item) == (header, task.item)
        assert uow.instances.get_header_with_item("no-such-item") is None
    assert (task.case.history, task.case.markers, task.case.timezone) == (page.history, page.markers, page.timezone)
    assert task.case.deployment == page.deployment and page.timers  # the case page shows the step's timer
    assert (task.case.timers, task.case.attachments, task.case.progress) == ([], [], None)  # a task page does not
    with pytest.raises(NotFound, match=f"No work item '{item}'"):  # another office: as if there were no such step
        casefile.task_view(app.uow(write=False), item, viewer="uno")
    add_user(app, "arsip", ("Arsiparis", "T"))
    with pytest.raises(NotPermitted):  # the same office, without the step's role
        casefile.task_view(app.uow(write=False), item, viewer="arsip")
