"""Moving running cases to a new version of their SOP, on SQLite and PostgreSQL, with real seed diagrams."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from engine import migration, services, worklist
from engine.errors import NotPermitted
from engine.xml import BPMN_NS, NSMAP
from tests.conftest import ROOT, add_office, add_user, fixture_file

KEY = "sop_003_pengaduan_masyarakat"
SOP = ROOT / "bpmn" / f"{KEY}.bpmn"
WIB = ZoneInfo("Asia/Jakarta")
STEP_2 = "2. Memerintahkan Kadivmin menindaklanjuti"
LANE_USERS = {"Pelapor": "pelapor", "Kakanwil": "kakanwil", "Kadiv": "kadiv", "Kabag P2": "kabag",
              "Kasubag PPHTI": "kasubag", "Divisi Terkait": "divisi"}


def at(hour, minute):
    """A clock reading on Tuesday 8 January 2030 in Pangkalpinang (a working day)."""
    moment = datetime(2030, 1, 8, hour, minute, tzinfo=WIB).astimezone(UTC)
    return lambda: moment


# --- editing the seed diagram the way an analyst would ------------------------------------------------------------

def _tree(data: bytes):
    return etree.fromstring(data)


def _by_id(root, element_id):
    [node] = root.xpath("//*[@id=$id]", id=element_id)
    return node


def renamed(data: bytes, step_id: str, name: str) -> bytes:
    root = _tree(data)
    _by_id(root, step_id).set("name", name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def with_standard_time(data: bytes, step_id: str, duration: str) -> bytes:
    root = _tree(data)
    [boundary] = root.xpath("//bpmn:boundaryEvent[@attachedToRef=$id]", namespaces=NSMAP, id=step_id)
    boundary.find(f".//{{{BPMN_NS}}}timeDuration").text = duration
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def without_step(data: bytes, step_id: str) -> bytes:
    """Drop a step with its SLA timer and escalation end, and connect what led into it to what followed it."""
    root = _tree(data)
    flows = root.xpath("//bpmn:sequenceFlow", namespaces=NSMAP)
    boundaries = [b.get("id") for b in root.xpath("//bpmn:boundaryEvent[@attachedToRef=$id]", namespaces=NSMAP,
                                                   id=step_id)]
    [after] = [f for f in flows if f.get("sourceRef") == step_id]
    gone_nodes = {step_id, *boundaries}
    gone_nodes |= {f.get("targetRef") for f in flows if f.get("sourceRef") in boundaries}
    gone_flows = {after.get("id")} | {f.get("id") for f in flows if f.get("sourceRef") in boundaries}
    for flow in flows:
        if flow.get("targetRef") == step_id:
            flow.set("targetRef", after.get("targetRef"))
            etree.SubElement(_by_id(root, after.get("targetRef")), f"{{{BPMN_NS}}}incoming").text = flow.get("id")
    for node in root.iter():
        reference = node.get("bpmnElement") or (node.text or "").strip()
        if node.get("id") in gone_nodes | gone_flows or reference in gone_nodes | gone_flows:
            node.getparent().remove(node)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- fixtures -----------------------------------------------------------------------------------------------------

@pytest.fixture
def babel(app):
    """Office BABEL counting working time, a user per lane of SOP 003, a global admin and an office admin."""
    add_office(app, "BABEL", "Kanwil Kepulauan Bangka Belitung", time_mode="working")
    for lane, user in LANE_USERS.items():
        add_user(app, user, (lane, "BABEL"))
    add_user(app, "admin", ("admin", None))
    add_user(app, "admin_babel", ("admin", "BABEL"))
    services.deploy(app.uow(), [(SOP.name, SOP.read_bytes())], actor="admin", note="SOP asli")
    return app


def deploy_v2(app, data: bytes, note="revisi"):
    [(deployment, created)], _ = services.deploy(app.uow(), [(SOP.name, data)], actor="admin", note=note)
    assert created and deployment.version == 2
    return deployment


def ready(app, case_id):
    return [w for w in services.show(app.uow(write=False), case_id)["work_items"] if w.state == "ready"]


def work_on(app, case_id, clock):
    """Complete the one open step of a case as the holder of its lane."""
    [item] = ready(app, case_id)
    services.complete(app.uow(), item.id, actor=LANE_USERS[item.lane], clock=clock)


def case_at_step_2(app):
    """A case whose step 1 was done at 11:55, so step 2 (10 min) is due at 13:05 after the lunch break."""
    case = services.start(app.uow(), KEY, actor="pelapor", clock=at(11, 40))
    work_on(app, case.id, at(11, 55))
    [item] = ready(app, case.id)
    assert (item.step_id, item.due_at) == ("Langkah_2", datetime(2030, 1, 8, 13, 5, tzinfo=WIB))
    return case


def instance(app, case_id):
    return services.show(app.uow(write=False), case_id)["instance"]


# --- moving -------------------------------------------------------------------------------------------------------

def test_a_case_on_a_renamed_step_moves_and_its_deadline_counts_the_new_duration_from_the_original_start(babel):
    app = babel
    case = case_at_step_2(app)
    [before] = ready(app, case.id)
    worklist.claim(app.uow(), before.id, actor="kakanwil")
    v2 = deploy_v2(app, with_standard_time(renamed(SOP.read_bytes(), "Langkah_2", "2. Menugaskan Kadiv"),
                                           "Langkah_2", "PT20M"))

    plan = migration.plan(app.uow(write=False), KEY, 1, 2, actor="admin")
    [moving] = plan.movable
    assert moving.instance.id == case.id and plan.blocked == [] and plan.dry_run
    assert moving.changes == [f"step '{STEP_2}': name → '2. Menugaskan Kadiv'",
                              f"step '{STEP_2}': standard time PT10M → PT20M"]
    assert instance(app, case.id).version == 1, "a plan writes nothing"

    result = migration.migrate(app.uow, KEY, 1, 2, actor="admin", clock=at(12, 30))
    assert result.moved == [case.id] and not result.dry_run
    moved = instance(app, case.id)
    assert (moved.version, moved.deployment_id, moved.status) == (2, v2.id, "running")
    [after] = ready(app, case.id)
    assert (after.id, after.claimed_by, after.ready_at) == (before.id, "kakanwil", before.ready_at)
    assert (after.step_name, after.lane, after.role) == ("2. Menugaskan Kadiv", "Kakanwil", "Kakanwil")
    # 20 working minutes from 11:55: five before lunch, fifteen after it; not 20 minutes from the move at 12:30.
    assert after.due_at == datetime(2030, 1, 8, 13, 15, tzinfo=WIB)
    [timer] = services.show(app.uow(write=False), case.id)["timers"]
    assert (timer.work_item_id, timer.due_at) == (after.id, after.due_at)
    [event] = [e for e in services.show(app.uow(write=False), case.id)["history"] if e.type == "instance_migrated"]
    assert (event.actor, event.data["from"], event.data["to"]) == ("admin", 1, 2)
    assert event.data["changes"] == moving.changes

    work_on(app, case.id, at(13, 0))
    [step_3] = ready(app, case.id)
    assert step_3.step_id == "Langkah_3" and step_3.due_at is not None


def test_a_case_waiting_on_a_removed_step_is_blocked_while_one_that_has_not_reached_it_moves(babel):
    app = babel
    waiting = case_at_step_2(app)
    early = services.start(app.uow(), KEY, actor="pelapor", clock=at(13, 0))
    done = services.start(app.uow(), KEY, actor="pelapor", clock=at(8, 0))
    for minute in range(14):
        work_on(app, done.id, at(9, minute))
    assert instance(app, done.id).status == "completed"
    deploy_v2(app, without_step(SOP.read_bytes(), "Langkah_2"))
    state_before = instance(app, waiting.id)

    result = migration.migrate(app.uow, KEY, 1, 2, actor="admin", clock=at(13, 5))

    assert [c.instance.id for c in result.cases] == [waiting.id, early.id], "a completed case is not listed"
    [blocked] = result.blocked
    assert blocked.instance.id == waiting.id
    assert blocked.reasons == [f"Step '{STEP_2}' (Langkah_2), where the case is now, is not in version 2."]
    assert result.moved == [early.id]
    kept = instance(app, waiting.id)
    assert (kept.version, kept.row_version, kept.state) == (1, state_before.row_version, state_before.state)
    work_on(app, early.id, at(13, 10))
    assert [w.step_id for w in ready(app, early.id)] == ["Langkah_3"], "version 2 goes from step 1 to step 3"
    work_on(app, waiting.id, at(13, 10))
    assert [w.step_id for w in ready(app, waiting.id)] == ["Langkah_3"], "the blocked case goes on on version 1"


def test_a_case_that_has_passed_a_removed_step_is_blocked_too(babel):
    app = babel
    case = case_at_step_2(app)
    work_on(app, case.id, at(12, 0))
    deploy_v2(app, without_step(SOP.read_bytes(), "Langkah_2"))
    [blocked] = migration.plan(app.uow(write=False), KEY, 1, 2, actor="admin").blocked
    assert f"Step '{STEP_2}' (Langkah_2), which the case has already passed, is not in version 2." in blocked.reasons


def test_a_case_waiting_on_a_step_that_gains_a_standard_time_is_blocked(app):
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "admin", ("admin", None))
    services.deploy(app.uow(), [fixture_file("decision_loop.bpmn")], office="T")
    case = services.start(app.uow(), "review_loop", actor="pel")
    name, data = fixture_file("decision_loop.bpmn")
    timer = (b'<bpmn:boundaryEvent id="Draft_SLA" cancelActivity="false" attachedToRef="Draft">'
             b'<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H'
             b'</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
             b'<bpmn:sequenceFlow id="F3c" sourceRef="Draft_SLA" targetRef="Draft_Late"/>'
             b'<bpmn:endEvent id="Draft_Late"/>')
    refs = b"<bpmn:flowNodeRef>Draft_SLA</bpmn:flowNodeRef><bpmn:flowNodeRef>Draft_Late</bpmn:flowNodeRef>"
    timed = data.replace(b'<bpmn:sequenceFlow id="F3" ', timer + b'<bpmn:sequenceFlow id="F3" ').replace(
        b"<bpmn:flowNodeRef>Draft</bpmn:flowNodeRef>", b"<bpmn:flowNodeRef>Draft</bpmn:flowNodeRef>" + refs)
    services.deploy(app.uow(), [(name, timed)], office="T")
    result = migration.migrate(app.uow, "review_loop", 1, 2, actor="admin")
    assert result.moved == []
    [blocked] = result.blocked
    assert blocked.instance.id == case.id
    assert blocked.reasons[0].startswith("Step '1. Menyusun draft' (Draft), where the case is now, is entered "
                                         "differently in version 2")


def test_a_case_whose_open_step_changes_type_is_blocked(app):
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "admin", ("admin", None))
    services.deploy(app.uow(), [fixture_file("decision_loop.bpmn")], office="T")
    services.start(app.uow(), "review_loop", actor="pel")
    name, data = fixture_file("decision_loop.bpmn")
    manual = data.replace(b'<bpmn:userTask id="Draft"', b'<bpmn:manualTask id="Draft"').replace(
        b"</camunda:properties></bpmn:extensionElements>\n    </bpmn:userTask>",
        b"</camunda:properties></bpmn:extensionElements>\n    </bpmn:manualTask>")
    services.deploy(app.uow(), [(name, manual)], office="T")
    [blocked] = migration.plan(app.uow(write=False), "review_loop", 1, 2, actor="admin").blocked
    assert blocked.reasons == ["Step '1. Menyusun draft' (Draft), where the case is now, is a manual task in "
                               "version 2, not a user task."]


def test_a_case_inside_a_called_process_moves_with_the_new_version_of_that_process(app):
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "kas", ("Kasubbag", "T"))
    add_user(app, "admin", ("admin", None))
    main, (sub_name, sub) = fixture_file("call_main.bpmn"), fixture_file("call_sub.bpmn")
    services.deploy(app.uow(), [main, (sub_name, sub)], office="T")
    case = services.start(app.uow(), "call_main", actor="pel")
    services.complete(app.uow(), ready(app, case.id)[0].id, actor="pel")
    [before] = ready(app, case.id)
    assert before.step_id == "Periksa"
    services.deploy(app.uow(), [main, (sub_name, sub.replace(b"PT2H", b"PT4H"))], office="T")

    result = migration.migrate(app.uow, "call_main", 1, 2, actor="admin")

    assert result.moved == [case.id]
    assert result.cases[0].changes == ["step '2. Memeriksa kelengkapan berkas': standard time PT2H → PT4H"]
    [after] = ready(app, case.id)
    assert after.id == before.id and (after.due_at - before.due_at).total_seconds() == 2 * 3600
    services.complete(app.uow(), after.id, actor="pel")
    services.complete(app.uow(), ready(app, case.id)[0].id, actor="kas")
    assert instance(app, case.id).status == "completed"


def test_a_called_process_the_new_version_no_longer_calls_blocks_the_cases_inside_it(app):
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "admin", ("admin", None))
    (main_name, main), sub = fixture_file("call_main.bpmn"), fixture_file("call_sub.bpmn")
    services.deploy(app.uow(), [(main_name, main), sub], office="T")
    case = services.start(app.uow(), "call_main", actor="pel")
    services.complete(app.uow(), ready(app, case.id)[0].id, actor="pel")
    other = sub[1].replace(b'id="call_sub"', b'id="call_sub_baru"')
    services.deploy(app.uow(), [(main_name, main.replace(b'calledElement="call_sub"',
                                                         b'calledElement="call_sub_baru"')), ("baru.bpmn", other)],
                    office="T")
    [blocked] = migration.plan(app.uow(write=False), "call_main", 1, 2, actor="admin").blocked
    assert "The called process 'call_sub' this case is running is not part of version 2." in blocked.reasons


def test_only_an_administrator_of_every_office_may_plan_or_move_cases(babel):
    case_at_step_2(babel)
    deploy_v2(babel, renamed(SOP.read_bytes(), "Langkah_2", "2. Menugaskan Kadiv"))
    for user in ("admin_babel", "kakanwil"):
        with pytest.raises(NotPermitted, match="of every office may do this"):
            migration.plan(babel.uow(write=False), KEY, 1, 2, actor=user)
        with pytest.raises(NotPermitted):
            migration.migrate(babel.uow, KEY, 1, 2, actor=user)


def test_moving_twice_moves_nothing_more_and_a_suspended_case_waits_until_it_is_resumed(babel):
    app = babel
    moving, paused = case_at_step_2(app), case_at_step_2(app)
    with app.uow() as uow:
        row = uow.instances.get(paused.id)
        row.status = "suspended"
        uow.instances.save(row)
        uow.commit()
    deploy_v2(app, renamed(SOP.read_bytes(), "Langkah_2", "2. Menugaskan Kadiv"))
    first = migration.migrate(app.uow, KEY, 1, 2, actor="admin")
    assert first.moved == [moving.id]
    [blocked] = first.blocked
    assert blocked.reasons == [f"Case {paused.number} is suspended; resume it first."]
    second = migration.migrate(app.uow, KEY, 1, 2, actor="admin")
    assert second.moved == [] and [c.instance.id for c in second.cases] == [paused.id]
    dry = migration.migrate(app.uow, KEY, 1, 2, actor="admin", dry_run=True)
    assert dry.dry_run and dry.moved == [] and instance(app, paused.id).version == 1
