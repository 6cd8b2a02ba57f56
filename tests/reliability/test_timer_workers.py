"""Timer workers as real processes on PostgreSQL: several at once, killed, restarted; every timer fires once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters import tables
from engine import services
from tests.conftest import add_office, add_user, fixture_file, make_app

ALUR = Path(sys.executable).with_name("alur")
pytestmark = pytest.mark.slow


@pytest.fixture
def pg_app(postgres_schema_factory, tmp_path):
    url = postgres_schema_factory()
    alur = make_app(url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    add_user(alur, "ana", ("Klien", "T"))
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    yield alur, url
    alur.engine.dispose()


def start_cases(alur, count: int, started: datetime) -> None:
    for _ in range(count):
        services.start(alur.uow(), "two_steps", actor="ana", clock=lambda: started)


def workers(url: str, tmp_path: Path, count: int) -> list[subprocess.Popen]:
    env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALUR_SMTP_HOST", None)
    return [subprocess.Popen([str(ALUR), "worker", "--interval", "0.2"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(count)]


def fired_counts(alur) -> tuple[int, Counter]:
    with alur.engine.connect() as conn:
        waiting = conn.execute(select(func.count()).select_from(tables.timers)
                               .where(tables.timers.c.state == "waiting")).scalar_one()
        rows = conn.execute(select(tables.audit_events.c.data_json)
                            .where(tables.audit_events.c.type == "timer_fired")).scalars()
        return waiting, Counter(json.loads(r)["timer"] for r in rows)


def wait_until_fired(alur, total: int, timeout: float) -> Counter:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting, counts = fired_counts(alur)
        if waiting == 0 and sum(counts.values()) >= total:
            return counts
        time.sleep(0.3)
    raise AssertionError(f"not all timers fired in {timeout} s: {fired_counts(alur)[0]} still waiting")


def stop(procs) -> list[str]:
    errors = []
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if "Traceback" in err:
            errors.append(err)
    return errors


def test_four_worker_processes_fire_a_thousand_due_timers_each_exactly_once(pg_app, tmp_path):
    alur, url = pg_app
    start_cases(alur, 1000, datetime.now(UTC) - timedelta(minutes=1))  # all due while no worker ran
    procs = workers(url, tmp_path, 4)
    try:
        counts = wait_until_fired(alur, 1000, timeout=240)
    finally:
        errors = stop(procs)
    assert errors == []
    assert len(counts) == 1000 and set(counts.values()) == {1}
    with alur.engine.connect() as conn:
        breaches = conn.execute(select(func.count()).select_from(tables.audit_events)
                                .where(tables.audit_events.c.type == "sla_breached")).scalar_one()
        overdue = conn.execute(select(func.count()).select_from(tables.work_items)
                               .where(tables.work_items.c.overdue.is_(True))).scalar_one()
    assert breaches == 1000 and overdue == 1000


def test_a_worker_killed_mid_sweep_loses_nothing_and_the_next_one_fires_the_rest_once(pg_app, tmp_path):
    alur, url = pg_app
    start_cases(alur, 200, datetime.now(UTC) - timedelta(minutes=1))
    [victim] = workers(url, tmp_path, 1)
    deadline = time.monotonic() + 60
    while fired_counts(alur)[0] > 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)  # mid-sweep: its open transaction rolls back
    victim.communicate()
    assert 0 < fired_counts(alur)[0] < 200
    procs = workers(url, tmp_path, 2)
    try:
        counts = wait_until_fired(alur, 200, timeout=120)
    finally:
        errors = stop(procs)
    assert errors == []
    assert len(counts) == 200 and set(counts.values()) == {1}


def test_a_timer_falling_due_while_workers_run_fires_within_two_seconds(pg_app, tmp_path):
    alur, url = pg_app
    procs = workers(url, tmp_path, 2)
    try:
        time.sleep(1.5)  # workers are up and idle
        started = datetime.now(UTC)
        start_cases(alur, 5, started)  # PT2S from now
        counts = wait_until_fired(alur, 5, timeout=30)
    finally:
        errors = stop(procs)
    assert errors == [] and len(counts) == 5
    with alur.engine.connect() as conn:
        rows = conn.execute(select(tables.audit_events.c.at, tables.audit_events.c.data_json)
                            .where(tables.audit_events.c.type == "timer_fired")).all()
    lags = [(at - datetime.fromisoformat(json.loads(data)["due_at"])).total_seconds() for at, data in rows]
    assert max(lags) <= 2.0, lags


def test_a_worker_outlives_a_database_outage_and_fires_what_fell_due_meanwhile(pg_app, tmp_path):
    alur, url = pg_app
    with alur.engine.begin() as conn:  # the worker's tables are away, as when the server is down or restored
        conn.exec_driver_sql("ALTER TABLE timers RENAME TO timers_away")
    log = tmp_path / "worker.err"
    env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALUR_SMTP_HOST", None)
    with log.open("w") as stderr:
        proc = subprocess.Popen([str(ALUR), "worker", "--interval", "0.2"], env=env, stdout=subprocess.DEVNULL,
                                stderr=stderr)
    try:
        deadline = time.monotonic() + 60  # its start-up takes a while on a loaded machine
        while "worker round failed (2 in a row)" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)  # rounds fail and are retried with backoff
        assert proc.poll() is None, "the worker exited during the outage"
        with alur.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE timers_away RENAME TO timers")
        start_cases(alur, 3, datetime.now(UTC) - timedelta(minutes=1))
        counts = wait_until_fired(alur, 3, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert len(counts) == 3 and set(counts.values()) == {1}
    assert "worker round failed (1 in a row)" in log.read_text()


def test_concurrent_claims_take_different_cases_at_once_and_a_held_case_fires_later(pg_app):
    """A sweep claims the earliest due timer whose case nobody holds (SKIP LOCKED): two transactions claiming from
    the same timers get different cases without waiting, and a sweep meanwhile fires only the third; the held
    ones fire in a later sweep, each once."""
    alur, _ = pg_app
    for seconds in (3, 2, 1):  # due one second apart
        start_cases(alur, 1, datetime.now(UTC) - timedelta(minutes=1, seconds=seconds))
    now = services.utcnow()
    with alur.uow(write=False) as uow:
        due = uow.timers.due(now, 10)
    window = (due[0].due_at, due[-1].due_at)
    with alur.uow() as first, alur.uow() as second:
        second.conn.exec_driver_sql("SET LOCAL lock_timeout = '3s'")  # without SKIP LOCKED this claim would wait
        timer_a, case_a = first.timers.claim(*window)
        assert timer_a.id == due[0].id and case_a.status == "running"  # the earliest due
        assert second.timers.claim(*window, skip=[due[1].id, due[2].id]) is None  # only the held one left
        timer_b, case_b = second.timers.claim(*window)
        assert timer_b.id == due[1].id and case_b.id != case_a.id
        assert services.fire_due_timers(alur.uow, limit=10) == 1  # the third case; the two held ones wait
    assert services.fire_due_timers(alur.uow, limit=10) == 2
    with alur.uow() as uow:
        assert uow.timers.claim(*window) is None  # all fired: nothing left to claim
    waiting, counts = fired_counts(alur)
    assert waiting == 0 and len(counts) == 3 and set(counts.values()) == {1}


def test_a_worker_with_a_backlog_does_not_sleep_between_rounds(tmp_path):
    """--interval is the pause after a round with nothing to do; a round that fired timers is followed by the next."""
    url = f"sqlite:///{tmp_path / 'alur.db'}"
    alur = make_app(url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    add_user(alur, "ana", ("Klien", "T"))
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    start_cases(alur, 35, datetime.now(UTC) - timedelta(minutes=1))
    env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALUR_SMTP_HOST", None)
    proc = subprocess.Popen([str(ALUR), "worker", "--batch", "10", "--interval", "60"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        counts = wait_until_fired(alur, 35, timeout=30)  # four rounds: three full, then one of 5
    finally:
        errors = stop([proc])
    assert errors == [] and len(counts) == 35 and set(counts.values()) == {1}
    alur.engine.dispose()


def test_a_sweep_fires_at_most_its_limit_even_when_more_fell_due_at_the_same_moment(tmp_path):
    alur = make_app(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path)
    add_office(alur, "T", "Kantor Uji")
    add_user(alur, "ana", ("Klien", "T"))
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn")], office="T")
    start_cases(alur, 12, datetime.now(UTC) - timedelta(minutes=1))  # all due at the very same moment
    assert services.fire_due_timers(alur.uow, limit=5) == 5
    assert services.fire_due_timers(alur.uow, limit=50) == 7
    assert fired_counts(alur)[0] == 0
    alur.engine.dispose()
