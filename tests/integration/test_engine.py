"""The engine's use cases against real databases (SQLite and PostgreSQL), saving and loading between steps."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from engine import runtime, services
from engine.errors import AlurError, FormInvalid, NotPermitted, RunawayLoop, TaskNotReady
from tests.conftest import add_office, add_user, fixture_file


def ready_items(app, instance_id):
    return [w for w in services.show(app.uow(write=False), instance_id)["work_items"] if w.state == "ready"]


def only_ready(app, instance_id):
    items = ready_items(app, instance_id)
    assert len(items) == 1, items
    return items[0]


@pytest.fixture
def loop_app(app):
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "kas", ("Kasubbag", "T"))
    services.deploy(app.uow(), [fixture_file("decision_loop.bpmn")], office="T")
    return app


def test_a_rework_loop_runs_to_the_end_with_rows_and_audit_kept_current(loop_app):
    app = loop_app
    case = services.start(app.uow(), "review_loop", actor="pel")
    order = []
    for decision in ["Tidak", "Ya"]:
        draft = only_ready(app, case.id)
        assert (draft.step_id, draft.role, draft.office) == ("Draft", "Pelaksana", "T")
        services.complete(app.uow(), draft.id, actor="pel", data={"catatan": "draft"})
        review = only_ready(app, case.id)
        assert review.role == "Kasubbag" and review.due_at is not None
        services.complete(app.uow(), review.id, actor="kas", data={"keputusan": decision})
        order += [draft.step_id, review.step_id]
    shown = services.show(app.uow(write=False), case.id)
    assert shown["instance"].status == "completed"
    assert order == ["Draft", "Review", "Draft", "Review"]
    assert [e.type for e in shown["history"]] == ["instance_started"] + ["task_completed"] * 4 + ["instance_completed"]
    assert [e.actor for e in shown["history"] if e.type == "task_completed"] == ["pel", "kas", "pel", "kas"]
    assert {w.state for w in shown["work_items"]} == {"completed"}
    assert shown["timers"] == []  # every SLA timer was cancelled when its step was completed in time
    assert shown["instance"].row_version == 5  # four completions after the start, one saved version each


def test_saved_state_holds_no_spec_and_records_the_serializer_version(loop_app):
    case = services.start(loop_app.uow(), "review_loop", actor="pel")
    with loop_app.uow(write=False) as uow:
        instance = uow.instances.get(case.id)
    state = json.loads(instance.state)
    assert "spec" not in state and "subprocess_specs" not in state
    assert instance.serializer_version == runtime.SERIALIZER_VERSION


def test_a_decision_step_without_its_decision_is_refused_and_changes_nothing(loop_app):
    app = loop_app
    case = services.start(app.uow(), "review_loop", actor="pel")
    services.complete(app.uow(), only_ready(app, case.id).id, actor="pel")
    review = only_ready(app, case.id)
    with pytest.raises(FormInvalid) as err:
        services.complete(app.uow(), review.id, actor="kas", data={"keputusan": "Mungkin"})
    assert "Keputusan (keputusan): Choose one of: Ya, Tidak" in err.value.message
    assert err.value.values["keputusan"] == "Mungkin"
    assert only_ready(app, case.id).id == review.id


def test_a_failing_condition_rolls_the_whole_step_back(app):
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "kas", ("Kasubbag", "T"))
    services.deploy(app.uow(), [fixture_file("failing_condition.bpmn")], office="T")
    case = services.start(app.uow(), "broken_gate", actor="pel")
    services.complete(app.uow(), only_ready(app, case.id).id, actor="pel")
    review = only_ready(app, case.id)
    before = services.show(app.uow(write=False), case.id)
    with pytest.raises(AlurError) as err:
        services.complete(app.uow(), review.id, actor="kas", data={"keputusan": "Ya"})
    assert "division by zero" in err.value.message.lower() or "could not continue" in err.value.message
    after = services.show(app.uow(write=False), case.id)
    assert after["instance"].row_version == before["instance"].row_version
    assert after["instance"].state == before["instance"].state
    assert [e.type for e in after["history"]] == [e.type for e in before["history"]]
    assert only_ready(app, case.id).id == review.id


def test_only_holders_of_the_lane_role_in_the_case_office_may_complete(loop_app):
    app = loop_app
    add_office(app, "X", "Kantor Lain")
    add_user(app, "kas_lain", ("Pelaksana", "X"))
    case = services.start(app.uow(), "review_loop", actor="pel")
    draft = only_ready(app, case.id)
    for user in ["kas", "kas_lain", "nobody"]:
        with pytest.raises(NotPermitted):
            services.complete(app.uow(), draft.id, actor=user)
    services.complete(app.uow(), draft.id, actor="pel")
    with pytest.raises(TaskNotReady, match="already completed by pel"):
        services.complete(app.uow(), draft.id, actor="pel")


def test_cases_stay_on_the_version_they_started_on(loop_app, tmp_path):
    app = loop_app
    old = services.start(app.uow(), "review_loop", actor="pel")
    _, data = fixture_file("decision_loop.bpmn")
    changed = tmp_path / "v2.bpmn"
    changed.write_bytes(data.replace(b"1. Menyusun draft", b"1. Menyusun draft (revisi)"))
    results, _ = services.deploy(app.uow(), [(str(changed), changed.read_bytes())], office="T")
    assert [(d.version, created) for d, created in results] == [(2, True)]
    new = services.start(app.uow(), "review_loop", actor="pel")
    assert (old.version, new.version) == (1, 2)
    assert only_ready(app, old.id).step_name == "1. Menyusun draft"
    assert only_ready(app, new.id).step_name == "1. Menyusun draft (revisi)"
    for case in (old, new):
        services.complete(app.uow(), only_ready(app, case.id).id, actor="pel")
        services.complete(app.uow(), only_ready(app, case.id).id, actor="kas", data={"keputusan": "Ya"})
        assert services.show(app.uow(write=False), case.id)["instance"].status == "completed"


def test_redeploying_identical_bytes_creates_no_new_version_and_keeps_the_xml(loop_app):
    results, _ = services.deploy(loop_app.uow(), [fixture_file("decision_loop.bpmn")], office="T")
    assert [(d.version, created) for d, created in results] == [(1, False)]
    with loop_app.uow(write=False) as uow:
        deployment = uow.deployments.latest("review_loop")
        assert uow.deployments.xml(deployment.id) == fixture_file("decision_loop.bpmn")[1]
    draft = deployment.step("Draft")
    assert (draft.lane, draft.kelengkapan, draft.output) == ("Pelaksana", "Disposisi", "Draft")
    review = deployment.step("Review")
    assert review.sla == "PT3H" and review.decision.choices == ("Ya", "Tidak")


def test_a_runaway_rework_loop_is_refused_before_the_engine_would_stall(loop_app):
    app = loop_app
    case = services.start(app.uow(), "review_loop", actor="pel")
    rounds = 0
    with pytest.raises(RunawayLoop, match="gone round its loops"):
        while rounds < 400:
            services.complete(app.uow(), only_ready(app, case.id).id, actor="pel")
            services.complete(app.uow(), only_ready(app, case.id).id, actor="kas", data={"keputusan": "Tidak"})
            rounds += 1
    assert 50 < rounds < 400
    # The refused step changed nothing: the case still loads and its open step can still be worked.
    item = only_ready(app, case.id)
    assert item.step_id in {"Draft", "Review"}
    with app.uow(write=False) as uow:
        deployment, workflow = services.load_case(uow, uow.instances.get(case.id))
    assert max(t.depth for t in runtime.ready_human_tasks(workflow)) <= runtime.MAX_TREE_DEPTH


def test_two_completions_of_one_work_item_at_once_apply_exactly_once(loop_app):
    app = loop_app
    for _ in range(5):
        case = services.start(app.uow(), "review_loop", actor="pel")
        item = only_ready(app, case.id)
        outcomes, barrier = [], threading.Barrier(2)

        def attempt(item_id=item.id, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                services.complete(app.uow(), item_id, actor="pel")
                outcomes.append("ok")
            except AlurError as err:
                outcomes.append(err.code)

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) in (["ok", "task_not_ready"], ["ok", "stale_instance"])
        history = services.show(app.uow(write=False), case.id)["history"]
        assert [e.type for e in history].count("task_completed") == 1


def test_each_due_timer_fires_exactly_once_with_two_workers(loop_app):
    app = loop_app
    cases = [services.start(app.uow(), "review_loop", actor="pel") for _ in range(12)]
    for case in cases:
        services.complete(app.uow(), only_ready(app, case.id).id, actor="pel")
    later = datetime.now(UTC) + timedelta(hours=4)
    totals = []

    def work():
        totals.append(services.fire_due_timers(app.uow, clock=lambda: later))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(totals) == 12
    assert services.fire_due_timers(app.uow, clock=lambda: later) == 0
    for case in cases:
        shown = services.show(app.uow(write=False), case.id)
        types = [e.type for e in shown["history"]]
        assert types.count("timer_fired") == 1 and types.count("sla_breached") == 1
        review = only_ready(app, case.id)
        assert review.overdue and review.step_id == "Review"
        services.complete(app.uow(), review.id, actor="kas", data={"keputusan": "Ya"})
        assert services.show(app.uow(write=False), case.id)["instance"].status == "completed"


def test_sla_due_times_follow_the_office_working_calendar(loop_app):
    app = loop_app
    add_office(app, "JKT", "Kanwil DKI Jakarta", time_mode="working")
    add_user(app, "pel_jkt", ("Pelaksana", "JKT"))
    services.deploy(app.uow(), [fixture_file("decision_loop.bpmn")])  # as a template any office may run
    saturday = datetime(2027, 1, 9, 3, 0, tzinfo=UTC)  # Saturday 10:00 WIB, after any real clock here
    case = services.start(app.uow(), "review_loop", actor="pel_jkt", office="JKT", clock=lambda: saturday)
    services.complete(app.uow(), only_ready(app, case.id).id, actor="pel_jkt", clock=lambda: saturday)
    review = only_ready(app, case.id)
    # PT3H from Saturday counts from Monday 07:30 WIB: 07:30-10:30 WIB is 00:30-03:30 UTC.
    assert review.due_at == datetime(2027, 1, 11, 3, 30, tzinfo=UTC)
    with app.uow(write=False) as uow:
        timers = uow.timers.waiting_for_instance(case.id)
    assert [t.due_at for t in timers] == [review.due_at]


def test_the_workflow_of_a_case_that_ends_is_freed_at_once_without_the_cyclic_collector(app):
    """A web worker completes cases all day: each finished case's workflow (a task refers to its workflow, which
    holds its tasks) must go by reference counting, not pile up until a full garbage collection."""
    import gc
    import weakref

    add_office(app, "T", "Kantor T")
    add_user(app, "ana", ("Klien", "T"), ("Duta", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    case = services.start(app.uow(), "two_steps", actor="ana")
    gc.collect()
    gc.disable()
    try:
        for _ in range(2):
            kept = weakref.ref(app.uow.workflows._items[case.id][2])  # what the last commit left in the cache
            [item] = services.show(app.uow(write=False), case.id)["work_items"][-1:]
            services.complete(app.uow(), item.id, actor="ana")
        assert services.show(app.uow(write=False), case.id)["instance"].status == "completed"
        assert kept() is None
    finally:
        gc.enable()


def test_a_new_case_writes_its_first_rows_without_reading_any_back(app):
    """A new case has no work-item or timer rows: they are written as the change from nothing (no read-back),
    and they show exactly what the saved workflow says is ready and waiting."""
    from sqlalchemy import event

    add_office(app, "T", "Kantor T")
    add_user(app, "ana", ("Klien", "T"))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    seen = []

    def record(conn, cursor, statement, *rest):
        seen.append(statement)

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        case = services.start(app.uow(), "two_steps", actor="ana")
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "FROM work_items" in s or "FROM timers" in s], reads

    shown = services.show(app.uow(write=False), case.id)
    [item] = shown["work_items"]
    [timer] = shown["timers"]
    assert (item.step_id, item.state, item.role, item.office) == ("A", "ready", "Klien", "T")
    assert (timer.work_item_id, timer.kind, timer.state, timer.due_at) == (item.id, "sla", "waiting", item.due_at)
    app.uow.workflows.clear()  # the saved state itself, deserialized, says the same
    with app.uow(write=False) as uow:
        _, workflow = services.load_case(uow, uow.instances.get(case.id))
    expected = runtime.rows_view(workflow)
    assert [str(t.id) for t in expected.ready] == [item.id]
    assert [(t.task_id, t.due) for t in expected.timers] == [(timer.id, timer.due_at)]


def test_a_start_takes_its_case_number_last_and_every_record_of_the_case_carries_it(app):
    """The number's counter stays locked until the start commits, and every start of the SOP waits for it: after
    taking it a start sends nothing on its own, once the process's directory cache knows the holders to notify (on
    PostgreSQL the case's row and the number go in one statement, its other writes with the COMMIT). Its audit event,
    its e-mails and the case itself carry the number, never the stand-in the case row was first written with."""
    from sqlalchemy import event

    add_user(app, "ana", ("Klien", "T"))
    with app.uow() as uow:
        uow.directory.add_user("kli", "x", "Kli", "kli@example.test", services.utcnow())
        uow.directory.grant("kli", "Klien", "T")
        uow.commit()
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    services.start(app.uow(), "two_steps", actor="ana", office="T")  # the directory's cache now has the holders
    event.listen(app.engine, "before_cursor_execute", record)
    try:
        case = services.start(app.uow(), "two_steps", actor="ana", office="T")
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    taken = next(i for i, s in enumerate(statements) if "INSERT INTO counters" in s)
    if app.engine.dialect.name == "postgresql":
        assert "INSERT INTO instances" in statements[taken]  # the case's row and its number: one round trip
        assert statements[taken + 1:] == []
    else:
        assert any(s.startswith("INSERT INTO instances") for s in statements[:taken])
    assert case.number.endswith("-0002") and not case.number.startswith("~")
    with app.uow(write=False) as uow:
        assert uow.instances.get(case.id).number == case.number
        assert uow.instances.id_by_number(case.number) == case.id
        started = next(e for e in uow.audit.for_instance(case.id) if e.type == "instance_started")
        mail = [m for m in uow.outbox.list("kli") if m.instance_id == case.id]
    assert started.data["number"] == case.number
    assert len(mail) == 1 and case.number in mail[0].subject and case.number in mail[0].body
