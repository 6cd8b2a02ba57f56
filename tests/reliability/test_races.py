"""Races on PostgreSQL: 2 processes × 8 threads complete, claim and release the same work items and fire the same
timers; every step is completed once, every timer fires once, nothing is both done and open, no lock is left."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text, update

from adapters import tables
from engine import services
from tests.conftest import ROOT, add_office, fixture_file, make_app
from tests.reliability.support import audit_cases, setup_users

pytestmark = pytest.mark.slow

PROCESSES, THREADS = 2, 8
CASES_PER_DIAGRAM = 20  # two_steps (a due SLA timer) and parallel_review (a parallel split, a timer on one branch)
SECONDS = 60  # the threads stop when every case is done (a few seconds); this is only the limit


@pytest.fixture
def race_db(postgres_schema_factory, tmp_path):
    url = postgres_schema_factory()
    alur = make_app(url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    setup_users(alur)
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn"), fixture_file("parallel_review.bpmn")],
                    office="T")
    past = datetime.now(UTC) - timedelta(minutes=5)  # the two_steps SLA timers are due from the start
    for _ in range(CASES_PER_DIAGRAM):
        services.start(alur.uow(), "two_steps", actor="u1", clock=lambda: past)
        services.start(alur.uow(), "parallel_review", actor="u1", clock=lambda: past)
    yield alur, url
    alur.engine.dispose()


def hammer(url: str, name: str) -> list[subprocess.Popen]:
    """The child processes, all starting their threads at the same moment, as `name` in pg_stat_activity."""
    tagged = f"{url}&application_name={name}"
    start_at = time.time() + 2.0
    return [subprocess.Popen([sys.executable, "-m", "tests.reliability.support", "race", tagged, str(seed),
                              str(THREADS), str(SECONDS), str(start_at)], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in range(1, PROCESSES + 1)]


def leftovers(url: str, name: str) -> tuple[list, list]:
    """Lock waits and open transactions of the children's sessions, seen while the sessions still exist."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            waiting = conn.execute(text(
                "SELECT l.locktype, l.mode, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.application_name = :name"), {"name": name}).all()
            idle = conn.execute(text(
                "SELECT pid, state FROM pg_stat_activity WHERE application_name = :name "
                "AND state LIKE 'idle in transaction%'"), {"name": name}).all()
        return waiting, idle
    finally:
        engine.dispose()


def test_two_processes_of_eight_threads_complete_claim_release_and_fire_each_exactly_once(race_db):
    alur, url = race_db
    name = f"alur_race_{time.monotonic_ns()}"
    procs = hammer(url, name)
    results, errors = [], []
    try:
        for proc in procs:
            line = proc.stdout.readline()
            assert line, f"a race process died: {proc.stderr.read()[-3000:]}"
            results.append(json.loads(line))
        waiting, idle = leftovers(url, name)
    finally:
        for proc in procs:
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if "Traceback" in err:
                errors.append(err[-3000:])
    assert errors == []
    ops, outcomes = Counter(), Counter()
    for result in results:
        ops.update(result["ops"])
        outcomes.update(result["outcomes"])
        assert result["foreign"] == [], "only Alur's own errors may reach a caller:\n" + "\n".join(result["foreign"])
        assert result["hung"] == 0, "a thread did not finish: a deadlock or a hang"
    assert waiting == [] and idle == [], (waiting, idle)
    print(f"\nraces: {PROCESSES}x{THREADS} threads, {sum(ops.values())} operations {dict(ops)}; "
          f"outcomes {dict(sorted(outcomes.items()))}")

    problems, figures = audit_cases(alur)
    assert problems == []
    print(f"audit: {dict(figures)}")
    cases = 2 * CASES_PER_DIAGRAM
    # Every case ran to its end: two_steps has 2 steps, parallel_review 4; each completed once (audited above).
    assert figures["cases_completed"] == cases
    assert figures["items_completed"] == CASES_PER_DIAGRAM * (2 + 4) and figures["items_ready"] == 0
    assert figures["timers_waiting"] == 0 and figures["timers_fired"] > 0
    # They really collided: completions of finished steps, claims of taken ones and empty timer sweeps.
    assert outcomes["complete:TaskNotReady"] > 0 and outcomes["claim:NotPermitted"] + outcomes["claim:TaskNotReady"] > 0
    assert outcomes["fire:fired_1"] > 0


def test_the_audit_finds_a_step_completed_twice_an_open_step_done_and_a_timer_fired_twice(tmp_path):
    """The consistency audit the race and crash tests rely on does fail on what it looks for."""
    alur = make_app(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path)
    add_office(alur, "T", "Kantor Uji")
    setup_users(alur)
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    past = datetime.now(UTC) - timedelta(minutes=5)
    case = services.start(alur.uow(), "two_steps", actor="u1", clock=lambda: past)
    assert services.fire_due_timers(alur.uow) == 1
    with alur.uow(write=False) as uow:
        [first] = uow.work_items.for_instance(case.id)
    services.complete(alur.uow(), first.id, actor="u1")
    assert audit_cases(alur)[0] == []
    with alur.uow() as uow:
        second = next(item for item in uow.work_items.for_instance(case.id) if item.state == "ready")
        for event in uow.audit.for_instance(case.id):
            if event.type in ("task_completed", "timer_fired"):
                uow.audit.add(replace(event, id=None))  # the same step completed, the same timer fired, again
        uow.conn.execute(update(tables.work_items).where(tables.work_items.c.id == second.id)
                         .values(state="completed"))  # done in the rows, open in the workflow
        uow.commit()
    problems, _ = audit_cases(alur)
    assert any(f"({first.id}) completed 2x" in p for p in problems)
    assert any(f"({second.id}) completed 0x" in p for p in problems)
    assert any("is completed in work_items but READY in the workflow" in p for p in problems)
    assert any("open work items [] but ready tasks" in p for p in problems)
    assert any("is fired but fired 2 times" in p for p in problems)
    alur.engine.dispose()


def test_sixteen_first_cases_of_an_sop_started_at_once_all_start_with_their_own_numbers(postgres_schema_factory,
                                                                                       tmp_path):
    """The case-number counter of a new prefix (a new SOP, a new year) used to be inserted by whoever came first:
    the others failed with a raw unique-key violation (a 500 in the web UI)."""
    alur = make_app(postgres_schema_factory(), tmp_path)
    add_office(alur, "T", "Kantor Uji")
    setup_users(alur)
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    barrier, numbers, errors = threading.Barrier(16), [], []

    def start():
        barrier.wait()
        try:
            numbers.append(services.start(alur.uow(), "two_steps", actor="u1").number)
        except Exception as err:  # noqa: BLE001 - the finding
            errors.append(f"{type(err).__name__}: {err}"[:300])

    threads = [threading.Thread(target=start) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    alur.engine.dispose()
    assert errors == []
    assert sorted(int(number.rsplit("-", 1)[1]) for number in numbers) == list(range(1, 17))


def test_eight_deploys_of_one_process_at_once_each_get_their_own_version(postgres_schema_factory, tmp_path):
    """Each deploy read the newest version and added one: two at once took the same number, and one failed with a
    raw unique-key violation (a 500 on the deploy page). Deploys of one process now take turns."""
    alur = make_app(postgres_schema_factory(), tmp_path)
    add_office(alur, "T", "Kantor Uji")
    _, original = fixture_file("two_steps_timer.bpmn")
    barrier, errors = threading.Barrier(8), []

    def deploy(n):
        variant = original.replace(b"</bpmn:definitions>", f"<!-- variant {n} --></bpmn:definitions>".encode())
        barrier.wait()
        try:
            services.deploy(alur.uow(), [("two_steps_timer.bpmn", variant)], office="T", note=f"variant {n}")
        except Exception as err:  # noqa: BLE001 - the finding
            errors.append(f"{type(err).__name__}: {err}"[:300])

    threads = [threading.Thread(target=deploy, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with alur.uow(write=False) as uow:
        versions = sorted(d.version for d in uow.deployments.versions("two_steps"))
        notes = sorted(d.note for d in uow.deployments.versions("two_steps"))
    alur.engine.dispose()
    assert errors == []
    assert versions == list(range(1, 9))
    assert notes == sorted(f"variant {n}" for n in range(8))
