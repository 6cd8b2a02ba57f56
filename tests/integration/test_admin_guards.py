"""The engine itself refuses admin work to users without the right role, whatever interface calls it."""

from __future__ import annotations

from datetime import date

import pytest

from engine import caseadmin, deadlines, identity, services
from engine.errors import FormInvalid, NotFound, NotPermitted
from tests.conftest import add_office, add_user, fixture_file


def test_only_a_deployer_or_an_admin_deploys_when_a_user_is_named(app):
    add_user(app, "ana", ("analyst", None))
    add_user(app, "dina", ("deployer", None))
    with pytest.raises(NotPermitted, match="deployer"):
        services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], actor="ana")
    with app.uow(write=False) as uow:
        assert uow.deployments.latest("two_steps") is None
    [(deployment, created)], _ = services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], actor="dina")
    assert created and deployment.deployed_by == "dina"


def test_a_file_deployed_from_a_very_long_path_keeps_the_end_of_its_name(app):
    _, data = fixture_file("two_steps_timer.bpmn")
    path = "/" + "/".join(["folder-with-a-long-name"] * 20) + "/two_steps_timer.bpmn"
    [(deployment, created)], _ = services.deploy(app.uow(), [(path, data)])
    with app.uow(write=False) as uow:
        stored = uow.deployments.get(deployment.id).filename
    assert created and len(path) > 300 and stored == path[-300:] and stored.endswith("/two_steps_timer.bpmn")


def test_the_check_names_an_office_that_alur_does_not_know(app):
    name, data = fixture_file("two_steps_timer.bpmn")
    assert b"kantor" not in data
    report = services.check(app.uow(write=False), [(name, data)])
    assert not [p for p in report.errors if "office" in p.message]
    tagged = _with_office(data, "NOWHERE")
    report = services.check(app.uow(write=False), [(name, tagged)])
    [problem] = [p for p in report.errors if "'NOWHERE'" in p.message]
    assert problem.element == "two_steps" and problem.line and "add the office first" in problem.message
    with pytest.raises(NotFound):
        services.deploy(app.uow(), [(name, tagged)])


def _with_office(data: bytes, code: str) -> bytes:
    """The fixture's process with a kantor property, written the way the seed SOPs carry their metadata."""
    head, sep, tail = data.partition(b'<bpmn:process id="two_steps"')
    close = tail.index(b">") + 1
    props = (b'<bpmn:extensionElements><camunda:properties xmlns:camunda="http://camunda.org/schema/1.0/bpmn">'
             b'<camunda:property name="kantor" value="' + code.encode() + b'"/></camunda:properties>'
             b'</bpmn:extensionElements>')
    return head + sep + tail[:close] + props + tail[close:]


def test_the_new_user_page_name_cannot_become_a_username(app):
    add_user(app, "root", ("admin", None))
    with pytest.raises(FormInvalid) as err:
        identity.create_user(app.uow(), actor="root", username="baru", full_name="X", email="", password="rahasia123")
    assert "username" in err.value.fields


def test_an_office_day_is_set_only_by_an_admin_of_that_office(app):
    add_office(app, "U", "Kantor Lain")
    add_user(app, "boss", ("admin", "T"))
    with pytest.raises(NotPermitted):
        deadlines.set_office_day(app.uow, "U", date(2027, 3, 1), "holiday", actor="boss")
    deadlines.set_office_day(app.uow, "T", date(2027, 3, 1), "holiday", actor="boss")
    with app.uow(write=False) as uow:
        assert [d.day for d in uow.directory.office_days("T")] == [date(2027, 3, 1)]


def test_the_case_list_shows_only_the_offices_an_admin_administers(app):
    add_office(app, "U", "Kantor Lain")
    add_user(app, "ana", ("Klien", None))
    add_user(app, "boss", ("admin", "T"))
    add_user(app, "clerk", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")])
    mine = services.start(app.uow(), "two_steps", actor="ana", office="T")
    services.start(app.uow(), "two_steps", actor="ana", office="U")
    found, total, offices = caseadmin.cases(app.uow(write=False), actor="boss")
    assert [i.id for i in found] == [mine.id] and total == 1 and offices == ["T"]
    assert caseadmin.cases(app.uow(write=False), actor="boss", office="U")[:2] == ([], 0)
    assert caseadmin.cases(app.uow(write=False), actor="boss", status="completed")[:2] == ([], 0)
    with pytest.raises(NotPermitted):
        caseadmin.cases(app.uow(write=False), actor="clerk")
