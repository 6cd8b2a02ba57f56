"""A step reads grants, offices, lane roles and holders through a per-process cache (adapters/directory.py
DirectoryCache) kept by the directory version the database bumps (migration 0009): a change made anywhere, by
another process too, holds for the very next step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from adapters.sql import Office
from engine import services
from engine.errors import NotPermitted
from tests.conftest import _hashed, add_office, add_user, fixture_file, make_app


@pytest.fixture
def two(database_url, tmp_path):
    """Two Alurs on one database, as two processes: `web` runs the steps, `admin` changes the directory."""
    web = make_app(database_url, tmp_path / "web")
    admin = make_app(database_url, tmp_path / "admin")
    add_office(admin, "T", "Kantor Uji")
    services.deploy(admin.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    yield web, admin
    web.engine.dispose()
    admin.engine.dispose()


def _item(app, instance_id):
    with app.uow(write=False) as uow:
        [item] = uow.work_items.open_for_instance(instance_id)
        return item


def _warm(web, actor="ana"):
    """One step through `web`: its cache then holds the actor's grants, the office, the lanes and the holders."""
    case = services.start(web.uow(), "two_steps", actor=actor, office="T")
    services.complete(web.uow(), _item(web, case.id).id, actor=actor)
    cache = web.uow.directory
    misses = cache.misses
    case = services.start(web.uow(), "two_steps", actor=actor, office="T")
    services.complete(web.uow(), _item(web, case.id).id, actor=actor)
    assert cache.misses == misses and cache.hits  # the second start and step read the directory from the cache
    return services.start(web.uow(), "two_steps", actor=actor, office="T")


def _version(app) -> int:
    with app.uow(write=False) as uow:
        return uow.conn.execute(text("SELECT value FROM counters WHERE name = 'directory'")).scalar_one()


def test_a_grant_revoked_by_another_process_refuses_the_next_step_there(two):
    web, admin = two
    add_user(admin, "ana", ("Klien", "T"))
    case = _warm(web)
    with admin.uow() as uow:
        uow.directory.revoke("ana", "Klien", "T")
        uow.commit()
    with pytest.raises(NotPermitted, match="Klien"):
        services.complete(web.uow(), _item(web, case.id).id, actor="ana")


def test_an_account_deactivated_by_another_process_does_no_next_step(two):
    web, admin = two
    add_user(admin, "ana", ("Klien", "T"))
    case = _warm(web)
    with admin.uow() as uow:
        uow.directory.set_active("ana", False, services.utcnow())
        uow.commit()
    with pytest.raises(NotPermitted):
        services.complete(web.uow(), _item(web, case.id).id, actor="ana")


def test_a_lane_given_to_another_role_and_a_new_holder_count_for_the_next_step(two):
    web, admin = two
    add_user(admin, "ana", ("Klien", "T"))
    case = _warm(web)
    with admin.uow() as uow:
        uow.directory.set_lane_role("two_steps", "Duta", "Penelaah")
        uow.directory.add_user("rina", _hashed("rahasia123"), "Rina", "rina@example.test", services.utcnow())
        uow.directory.grant("rina", "Penelaah", "T")
        uow.commit()
    services.complete(web.uow(), _item(web, case.id).id, actor="ana")
    assert _item(web, case.id).role == "Penelaah"
    with admin.uow(write=False) as uow:
        assert [(m.recipient, m.instance_id) for m in uow.outbox.list("rina")] == [("rina", case.id)]


SLA_CHAIN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://alur.local/t">
  <bpmn:process id="sla_chain" name="SLA chain" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="L1" name="Klien"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>A</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="L2" name="Duta"><bpmn:flowNodeRef>B</bpmn:flowNodeRef><bpmn:flowNodeRef>T</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>late</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="A"/>
    <bpmn:userTask id="A" name="1. Ajukan"/>
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="B"/>
    <bpmn:userTask id="B" name="2. Periksa"/>
    <bpmn:boundaryEvent id="T" cancelActivity="false" attachedToRef="B"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT3H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="T" targetRef="late"/>
    <bpmn:endEvent id="late"/>
    <bpmn:sequenceFlow id="f4" sourceRef="B" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_an_office_changed_by_another_process_sets_the_next_due_time(two):
    web, admin = two
    add_user(admin, "ana", ("Klien", "T"))
    services.deploy(admin.uow(), [("sla_chain.bpmn", SLA_CHAIN)], office="T")
    evening = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)  # a Tuesday, 17:00 in Jakarta

    def step():
        case = services.start(web.uow(), "sla_chain", actor="ana", office="T")
        services.complete(web.uow(), _item(web, case.id).id, actor="ana", clock=lambda: evening)
        return _item(web, case.id).due_at - evening

    assert step() == step() == timedelta(hours=3)  # elapsed time; the second step read the office from the cache
    with admin.uow() as uow:  # working time now: three working hours from 17:00 end the next morning
        uow.directory.add_office(Office("T", "Kantor Uji", "Asia/Jakarta", "working"))
        uow.commit()
    assert step() > timedelta(hours=12)


@pytest.mark.parametrize("table, insert, update, delete", [
    ("offices", "INSERT INTO offices (code, name, timezone, time_mode) VALUES ('X', 'x', 'Asia/Jakarta', 'elapsed')",
     "UPDATE offices SET name = 'y' WHERE code = 'X'", "DELETE FROM offices WHERE code = 'X'"),
    ("office_days", "INSERT INTO office_days (office, day, kind, note) VALUES ('T', '2031-01-02', 'holiday', 'n')",
     "UPDATE office_days SET note = 'm' WHERE office = 'T'", "DELETE FROM office_days WHERE office = 'T'"),
    ("users", "INSERT INTO users (username, full_name, password_hash, active, created_at, email_notifications) "
              "VALUES ('z', 'z', 'h', true, '2030-01-01', true)",
     "UPDATE users SET full_name = 'y' WHERE username = 'z'", "DELETE FROM users WHERE username = 'z'"),
    ("user_roles", "INSERT INTO user_roles (username, role, office) VALUES ('ana', 'R', 'T')",
     "UPDATE user_roles SET role = 'S' WHERE role = 'R'", "DELETE FROM user_roles WHERE role = 'S'"),
    ("lane_roles", "INSERT INTO lane_roles (key, lane, role) VALUES ('k', 'L', 'R')",
     "UPDATE lane_roles SET role = 'S' WHERE key = 'k'", "DELETE FROM lane_roles WHERE key = 'k'"),
])
def test_every_change_of_a_directory_table_bumps_the_version_whatever_writes_it(two, table, insert, update, delete):
    _, admin = two
    add_user(admin, "ana")
    for statement in (insert, update, delete):
        before = _version(admin)
        with admin.uow() as uow:
            assert uow.conn.execute(text(statement)).rowcount == 1
            uow.commit()
        assert _version(admin) > before, (table, statement)


def test_a_reader_of_an_older_version_does_not_refill_the_cache():
    from adapters.directory import DirectoryCache

    cache = DirectoryCache()
    assert cache.get(5, "k", lambda: "new") == "new"
    assert cache.get(4, "k", lambda: "old") == "old"  # a transaction that began before the change
    assert cache.get(5, "k", lambda: "never read") == "new"
    assert cache.get(6, "k", lambda: "newer") == "newer"


def test_a_start_after_a_grant_revoked_by_another_process_is_refused(two):
    web, admin = two
    add_user(admin, "ana", ("Klien", "T"))
    _warm(web)
    with admin.uow() as uow:
        uow.directory.revoke("ana", "Klien", "T")
        uow.commit()
    with pytest.raises(NotPermitted, match="Klien"):
        services.start(web.uow(), "two_steps", actor="ana", office="T")
