"""Users, grants, offices and lane roles, managed through engine/identity on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import casefile, identity, services, worklist
from engine.errors import FormInvalid, NotFound, NotPermitted
from engine.passwords import verify_password
from engine.worklist import InboxQuery
from tests.conftest import FIXTURES, add_office, add_user, fixture_file

NOW = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)


@pytest.fixture
def team(app):
    """Office T (elapsed) and U; the global admin `root`, T's admin `boss`, Klien holders ana and ani in T."""
    add_office(app, "U", "Kantor Lain")
    add_user(app, "root", ("admin", None))
    add_user(app, "boss", ("admin", "T"))
    add_user(app, "ana", ("Klien", "T"))
    add_user(app, "ani", ("Klien", "T"))
    add_user(app, "duta", ("Duta", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    return app


def system_events(app, kind):
    with app.uow(write=False) as uow:
        return [e for e in uow.audit.all() if e.type == kind]


def ready_items(app, case_id):
    return [w for w in services.show(app.uow(write=False), case_id)["work_items"] if w.state == "ready"]


# --- permissions -----------------------------------------------------------------------------------------------------

def test_analysts_model_deployers_deploy_and_only_an_every_office_admin_is_a_global_admin():
    analyst, deployer, office_admin, global_admin = ({("T", "analyst")}, {(None, "deployer")}, {("T", "admin")},
                                                     {(None, "admin")})
    assert [identity.may_model(r) for r in (analyst, deployer, office_admin, {("T", "Klien")})] == [
        True, True, True, False]
    assert [identity.may_deploy(r) for r in (analyst, deployer, office_admin, global_admin)] == [
        False, True, False, True]
    assert [identity.is_global_admin(r) for r in (office_admin, global_admin)] == [False, True]


# --- users -----------------------------------------------------------------------------------------------------------

def test_a_global_admin_creates_a_user_and_bad_input_is_named_field_by_field(team):
    with pytest.raises(FormInvalid) as err:
        identity.create_user(team.uow(), actor="root", username="ana", full_name="x" * 201, email="ana at kanwil",
                             password="pendek")
    assert set(err.value.fields) == {"username", "full_name", "email", "password"}
    assert str(err.value.fields["password"]) == "Use at least 8 characters."
    assert err.value.values["email"] == "ana at kanwil" and "password" not in err.value.values
    with pytest.raises(FormInvalid) as err:
        identity.create_user(team.uow(), actor="root", username="bad name", full_name="", email="", password="")
    assert set(err.value.fields) == {"username", "password"}

    created = identity.create_user(team.uow(), actor="root", username="siti", full_name=" Siti Aminah ",
                                   email="siti@kanwil.test", password="rahasia123", clock=lambda: NOW)
    assert (created.username, created.full_name, created.email, created.active, created.grants) == (
        "siti", "Siti Aminah", "siti@kanwil.test", True, [])
    [event] = system_events(team, "user_created")
    assert (event.instance_id, event.actor, event.at, event.data["username"]) == (None, "root", NOW, "siti")


def test_an_office_admin_may_list_users_but_not_create_them(team):
    assert "ana" in [u.username for u in identity.users(team.uow(write=False), actor="boss")]
    with pytest.raises(NotPermitted, match="administrator of every office"):
        identity.create_user(team.uow(), actor="boss", username="siti", full_name="", email="", password="rahasia123")
    with pytest.raises(NotPermitted):
        identity.users(team.uow(write=False), actor="ana")
    with pytest.raises(NotFound, match="No user 'nobody'"):
        identity.user(team.uow(write=False), "nobody", actor="root")


def test_a_deactivated_user_holds_nothing_at_once_and_the_step_they_claimed_returns_to_the_role(team):
    case = services.start(team.uow(), "two_steps", actor="ana")
    [item] = ready_items(team, case.id)
    worklist.claim(team.uow(), item.id, actor="ana")
    assert worklist.inbox(team.uow(write=False), "ani", InboxQuery())[1] == 0

    with pytest.raises(NotPermitted, match="own account"):
        identity.set_active(team.uow(), "root", False, actor="root")
    view = identity.set_active(team.uow(), "ana", False, actor="root", clock=lambda: NOW)
    assert not view.active and view.deactivated_at == NOW and view.grants == [("T", "Klien")]  # grants kept
    with team.uow(write=False) as uow:
        assert uow.directory.roles_of("ana") == set()
    with pytest.raises(NotPermitted):
        services.complete(team.uow(), item.id, actor="ana")
    entries, total = worklist.inbox(team.uow(write=False), "ani", InboxQuery())
    assert total == 1 and entries[0].item.claimed_by is None
    released = [e for e in services.show(team.uow(write=False), case.id)["history"] if e.type == "task_released"]
    assert released[-1].data["reason"] == "user_deactivated" and released[-1].actor == "root"
    [event] = system_events(team, "user_deactivated")
    assert event.data == {"username": "ana", "released": [item.id]}

    identity.set_active(team.uow(), "ana", True, actor="root")
    with team.uow(write=False) as uow:
        assert uow.directory.roles_of("ana") == {("T", "Klien")}
        assert uow.directory.user("ana").deactivated_at is None
    assert len(system_events(team, "user_reactivated")) == 1


def test_a_password_reset_needs_eight_characters_and_only_a_global_admin_may_do_it(team):
    with pytest.raises(FormInvalid) as err:
        identity.reset_password(team.uow(), "ana", "1234567", actor="root")
    assert set(err.value.fields) == {"password"}
    with pytest.raises(NotPermitted):
        identity.reset_password(team.uow(), "ana", "baru12345", actor="boss")
    identity.reset_password(team.uow(), "ana", "baru12345", actor="root")
    with team.uow(write=False) as uow:
        assert verify_password("baru12345", uow.directory.user("ana").password_hash)
    [event] = system_events(team, "password_reset")
    assert event.data == {"username": "ana"}  # never the password


# --- grants ----------------------------------------------------------------------------------------------------------

def test_an_office_admin_grants_and_revokes_roles_of_their_own_office_only(team):
    assert identity.grant(team.uow(), "duta", "Klien", "T", actor="boss") is True
    assert identity.grant(team.uow(), "duta", "Klien", "T", actor="boss") is False  # held already: no event
    for role, office in (("Klien", "U"), ("Klien", None), ("admin", "T"), ("deployer", "T")):
        with pytest.raises(NotPermitted, match="their own office only"):
            identity.grant(team.uow(), "duta", role, office, actor="boss")
    with pytest.raises(NotPermitted):
        identity.grant(team.uow(), "duta", "Klien", "T", actor="ana")
    assert identity.revoke(team.uow(), "duta", "Klien", "T", actor="boss") is True
    assert identity.revoke(team.uow(), "duta", "Klien", "T", actor="boss") is False
    assert identity.grant(team.uow(), "duta", "analyst", None, actor="root") is True
    assert [(e.actor, e.data) for e in system_events(team, "role_granted")] == [
        ("boss", {"username": "duta", "role": "Klien", "office": "T"}),
        ("root", {"username": "duta", "role": "analyst", "office": None})]
    assert len(system_events(team, "role_revoked")) == 1


def test_a_grant_names_a_missing_role_or_an_unknown_office_and_nobody_takes_admin_from_themselves(team):
    with pytest.raises(FormInvalid) as err:
        identity.grant(team.uow(), "ana", " ", "T", actor="root")
    assert set(err.value.fields) == {"role"}
    with pytest.raises(FormInvalid) as err:
        identity.grant(team.uow(), "ana", "Klien", "X", actor="root")
    assert set(err.value.fields) == {"office"}
    with pytest.raises(NotFound):
        identity.grant(team.uow(), "nobody", "Klien", "T", actor="root")
    with pytest.raises(NotPermitted, match="yourself"):
        identity.revoke(team.uow(), "root", "admin", None, actor="root")


# --- offices ---------------------------------------------------------------------------------------------------------

def test_saving_an_office_names_a_bad_time_zone_counting_and_hours_field_by_field(team):
    with pytest.raises(FormInvalid) as err:
        identity.save_office(team.uow(), actor="root", code="K W", name="", timezone="Asia/Atlantis",
                             time_mode="sometimes", schedule="mon 25:00-26:00")
    assert set(err.value.fields) == {"code", "name", "timezone", "time_mode", "schedule"}
    assert "25:00-26:00" in str(err.value.fields["schedule"])
    with pytest.raises(NotPermitted):
        identity.save_office(team.uow(), actor="boss", code="KW", name="Kanwil", timezone="Asia/Makassar",
                             time_mode="working", schedule="")

    saved = identity.save_office(team.uow(), actor="root", code="KW", name="Kanwil", timezone="Asia/Makassar",
                                 time_mode="working", schedule="")
    assert (saved.created, saved.calendar_changed, saved.office.schedule) == (True, False, None)
    saved = identity.save_office(team.uow(), actor="root", code="KW", name="Kanwil Sulsel", timezone="Asia/Makassar",
                                 time_mode="working", schedule="fri 07:30-11:30 13:00-16:30")
    assert (saved.created, saved.calendar_changed, saved.office.name) == (False, True, "Kanwil Sulsel")
    assert "fri 07:30-11:30 13:00-16:30" in saved.office.schedule
    with team.uow(write=False) as uow:
        assert uow.directory.office_calendar("KW").schedule[4].intervals[0][1].hour == 11
    assert [e.data["created"] for e in system_events(team, "office_saved")] == [True, False]
    assert "KW" in [o.code for o in identity.offices(team.uow(write=False), actor="boss")]


# --- lane roles ------------------------------------------------------------------------------------------------------

def test_lane_roles_count_holders_per_office_and_flag_a_lane_nobody_holds_in_the_sops_office(team):
    add_user(team, "duta_u", ("Duta", "U"))
    identity.revoke(team.uow(), "duta", "Duta", "T", actor="root")
    lanes = identity.lane_roles(team.uow(write=False), "two_steps", actor="boss")
    assert [(r.lane, r.role, r.default, r.holders, r.unheld) for r in lanes] == [
        ("Klien", "Klien", True, {"T": 2}, False),
        ("Duta", "Duta", True, {"T": 0}, True)]  # the SOP is office T's: a holder in U does not count
    with pytest.raises(NotPermitted):
        identity.lane_roles(team.uow(write=False), "two_steps", actor="ana")
    with pytest.raises(NotFound):
        identity.lane_roles(team.uow(write=False), "nope", actor="root")


def test_a_lane_mapped_to_another_role_decides_who_starts_does_and_sees_new_cases(team):
    add_user(team, "pem", ("Pemohon", "T"))
    with pytest.raises(NotPermitted):
        identity.set_lane_role(team.uow(), "two_steps", "Klien", "Pemohon", actor="boss")
    with pytest.raises(FormInvalid) as err:
        identity.set_lane_role(team.uow(), "two_steps", "Tamu", "Pemohon", actor="root")
    assert set(err.value.fields) == {"lane"} and "Klien, Duta" in str(err.value.fields["lane"])
    mapped = identity.set_lane_role(team.uow(), "two_steps", "Klien", "Pemohon", actor="root")
    assert (mapped.role, mapped.default, mapped.holders, mapped.unheld) == ("Pemohon", False, {"T": 1}, False)

    with pytest.raises(NotPermitted, match="'Pemohon'"):
        services.start(team.uow(), "two_steps", actor="ana")
    case = services.start(team.uow(), "two_steps", actor="pem")
    [item] = ready_items(team, case.id)
    assert (item.lane, item.role) == ("Klien", "Pemohon")
    assert worklist.inbox(team.uow(write=False), "pem", InboxQuery())[1] == 1
    assert worklist.inbox(team.uow(write=False), "ana", InboxQuery())[1] == 0
    assert casefile.case_view(team.uow(write=False), case.id, viewer="pem").instance.id == case.id
    with pytest.raises(NotPermitted):
        casefile.case_view(team.uow(write=False), case.id, viewer="ana")

    back = identity.set_lane_role(team.uow(), "two_steps", "Klien", "", actor="root")
    assert (back.role, back.default) == ("Klien", True)
    assert [e.data["role"] for e in system_events(team, "lane_role_changed")] == ["Pemohon", "Klien"]


def test_remapping_a_lane_moves_the_steps_already_waiting_in_it_to_the_new_role(team):
    add_user(team, "pem", ("Pemohon", "T"))
    case = services.start(team.uow(), "two_steps", actor="ana")
    identity.set_lane_role(team.uow(), "two_steps", "Klien", "Pemohon", actor="root")
    [item] = ready_items(team, case.id)
    assert item.role == "Pemohon"
    services.complete(team.uow(), item.id, actor="pem")
    [event] = system_events(team, "lane_role_changed")
    assert event.data["moved"] == 1 and event.data["previous"] == "Klien"


def test_check_warns_at_the_lane_line_when_nobody_holds_its_role_and_lint_alone_does_not(team):
    path = FIXTURES / "decision_loop.bpmn"
    files = [(str(path), path.read_bytes())]
    report = services.check(team.uow(write=False), files)
    assert report.ok
    unheld = sorted((p.element, p.line) for p in report.warnings if "nobody active holds" in p.message)
    assert unheld == [("Lane_Kasubbag", 10), ("Lane_Pelaksana", 5)]
    assert "in any office" in report.warnings[-1].message
    assert not [p for p in services.lint(files).warnings if "nobody" in p.message]

    add_user(team, "pel", ("Pelaksana", "U"))
    report = services.check(team.uow(write=False), files)
    assert [p.element for p in report.warnings if "nobody active holds" in p.message] == ["Lane_Kasubbag"]
