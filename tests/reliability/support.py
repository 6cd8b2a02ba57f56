"""Shared by the race and crash tests: a consistency audit of every case, and the race test's child process.

`python -m tests.reliability.support race URL SEED THREADS SECONDS START_AT` runs THREADS threads that hammer the
ready work items and due timers of the database at URL through the engine API, prints one JSON line with what they
saw, then waits for its standard input to close before it exits (so the parent can look at its sessions first).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import traceback
from collections import Counter
from datetime import timedelta

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from adapters import bootstrap, tables
from engine import runtime, services, worklist
from engine.errors import AlurError

USERS = ("u0", "u1", "u2", "u3")
ROLES = ("Klien", "Duta", "Pemeriksa", "Kepala")
# Timers of steps made ready by the threads are due at once for fire_due_timers.
TIMER_CLOCK_AHEAD = timedelta(hours=1)


def setup_users(alur, office: str = "T", emails=()) -> None:
    """u0..u3 hold every role of the test diagrams in `office`, u0 also its admin; those in `emails` get mail.

    Their password is the demo password under a cheap hash (tests.web.helpers), so logins stay fast.
    """
    from tests.web.helpers import PASSWORD_HASH

    with alur.uow() as uow:
        for index, name in enumerate(USERS):
            email = f"{name}@kanwil.test" if name in emails else None
            uow.directory.add_user(name, PASSWORD_HASH, name, email, services.utcnow())
            for role in ROLES + (("admin",) if index == 0 else ()):
                uow.directory.grant(name, role, office)
        uow.commit()


# --- the consistency audit ----------------------------------------------------------------------------------------

def audit_cases(alur) -> tuple[list[str], Counter]:
    """Every case loads, and its workflow, work items, timers and audit trail agree; the problems and some figures.

    Checked per case: each completed work item has exactly one `task_completed` event and a COMPLETED task, each
    ready one has none, a READY task and the suspended flag exactly when its case is suspended (so no item is both
    done and open), the workflow's ready human tasks are exactly the ready rows (no duplicate or missing open item),
    each fired timer has exactly one `timer_fired` event (and a cancelled or waiting one none), and the case's
    status matches the workflow.
    """
    problems, figures = [], Counter()
    with alur.uow(write=False) as uow:
        ids = [i.id for i in uow.instances.list()]
        for instance_id in ids:
            instance = uow.instances.get(instance_id)
            where = f"case {instance.number}"
            try:
                _, workflow = services.load_case(uow, instance)
            except Exception as err:  # noqa: BLE001 - any failure to load is the finding
                problems.append(f"{where} does not load: {type(err).__name__}: {err}")
                continue
            figures["cases"] += 1
            figures[f"cases_{instance.status}"] += 1
            events = uow.audit.for_instance(instance_id)
            done = Counter(e.data.get("work_item") for e in events if e.type == "task_completed")
            fired = Counter(e.data.get("timer") for e in events if e.type == "timer_fired")
            items = uow.work_items.for_instance(instance_id)
            problems += _item_problems(where, workflow, items, done, instance.status, figures)
            problems += _timer_problems(where, workflow, uow.conn, instance_id, fired, figures)
            if (instance.status == "completed") != workflow.is_completed():
                problems.append(f"{where} is {instance.status} but its workflow completed={workflow.is_completed()}")
    return problems, figures


def _item_problems(where, workflow, items, done, status, figures) -> list[str]:
    problems = []
    known = {item.id for item in items}
    for item in items:
        task = runtime.get_task(workflow, item.id)
        state = TaskState.get_name(task.state) if task is not None else "missing"
        figures[f"items_{item.state}"] += 1
        if item.state == "completed":
            if done[item.id] != 1:
                problems.append(f"{where}: step {item.step_id} ({item.id}) completed {done[item.id]}x in the audit")
            if state != "COMPLETED":
                problems.append(f"{where}: step {item.step_id} is completed in work_items but {state} in the workflow")
        elif item.state == "ready":
            if item.suspended != (status == "suspended"):
                problems.append(f"{where}: step {item.step_id} is open with suspended={item.suspended} in a "
                                f"{status} case")
            if done[item.id]:
                problems.append(f"{where}: step {item.step_id} is open but was completed ({done[item.id]}x)")
            if state != "READY":
                problems.append(f"{where}: step {item.step_id} is open in work_items but {state} in the workflow")
        elif done[item.id] or state == "COMPLETED":
            problems.append(f"{where}: step {item.step_id} is {item.state} but was completed")
    for item_id in set(done) - known:
        problems.append(f"{where}: work item {item_id} completed in the audit but has no row")
    return problems + _open_problems(where, workflow, items, status)


def _open_problems(where, workflow, items, status) -> list[str]:
    """The open rows are exactly the workflow's ready human tasks: none missing, none twice for one step."""
    tasks = runtime.ready_human_tasks(workflow) if status == "running" else []
    ready_rows = Counter(item.id for item in items if item.state == "ready")
    if Counter(str(t.id) for t in tasks) != ready_rows:
        return [f"{where}: open work items {sorted(ready_rows)} but ready tasks {sorted(str(t.id) for t in tasks)}"]
    by_step = Counter(item.step_id for item in items if item.state == "ready")
    tasks_by_step = Counter(t.task_spec.bpmn_id for t in tasks)
    return [f"{where}: {count} open items for step {step}" for step, count in by_step.items()
            if count > tasks_by_step[step]]


def _timer_problems(where, workflow, conn, instance_id, fired, figures) -> list[str]:
    problems = []
    rows = conn.execute(select(tables.timers).where(tables.timers.c.instance_id == instance_id)).all()
    known = set()
    for row in rows:
        known.add(row.id)
        figures[f"timers_{row.state}"] += 1
        task = runtime.get_task(workflow, row.id)
        state = TaskState.get_name(task.state) if task is not None else "missing"
        want = 1 if row.state == "fired" else 0
        if fired[row.id] != want:
            problems.append(f"{where}: timer {row.event_id} is {row.state} but fired {fired[row.id]} times")
        if row.state == "fired" and state != "COMPLETED":
            problems.append(f"{where}: timer {row.event_id} is fired but {state} in the workflow")
        if row.state == "waiting" and state != "WAITING":
            problems.append(f"{where}: timer {row.event_id} is waiting but {state} in the workflow")
    for timer_id in set(fired) - known:
        problems.append(f"{where}: timer {timer_id} fired in the audit but has no row")
    return problems


# --- the race test's child process --------------------------------------------------------------------------------

class Hammer:
    """THREADS threads of one process doing random claims, releases, completions and timer sweeps."""

    def __init__(self, url: str, seed: int, threads: int, seconds: float):
        self.alur = bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": "/nonexistent"})
        self.seed, self.threads, self.seconds = seed, threads, seconds
        self.lock = threading.Lock()
        self.ops, self.outcomes = Counter(), Counter()
        self.foreign: list[str] = []  # exceptions that are not Alur's own

    def pool(self) -> list[tuple[str, str | None]]:
        """The ready items of the oldest unfinished cases (everybody works on the same few: they collide)."""
        c = tables.work_items.c
        with self.alur.uow(write=False) as uow:
            rows = uow.conn.execute(select(c.id, c.claimed_by).where(c.state == "ready")
                                    .order_by(c.instance_id, c.id).limit(8)).all()
        return [(r.id, r.claimed_by) for r in rows]

    def waiting_timers(self) -> int:
        with self.alur.uow(write=False) as uow:
            return len(uow.conn.execute(select(tables.timers.c.id).where(tables.timers.c.state == "waiting")).all())

    def run_thread(self, index: int, deadline: float) -> None:
        rng = random.Random(self.seed * 100 + index)
        ahead = lambda: services.utcnow() + TIMER_CLOCK_AHEAD  # noqa: E731
        while time.monotonic() < deadline:
            pool = self.pool()
            if not pool and not self.waiting_timers():
                return
            op = rng.choices(("complete", "claim", "release", "fire"), (5, 3, 2, 2))[0]
            if not pool:
                op = "fire"
            item_id, claimed_by = rng.choice(pool) if pool else (None, None)
            actor = rng.choice(USERS)
            try:
                if op == "complete":
                    services.complete(self.alur.uow(), item_id, actor=claimed_by or actor)
                    outcome = "ok"
                elif op == "claim":
                    worklist.claim(self.alur.uow(), item_id, actor=actor)
                    outcome = "ok"
                elif op == "release":
                    worklist.release(self.alur.uow(), item_id, actor=actor)
                    outcome = "ok"
                else:
                    outcome = f"fired_{min(services.fire_due_timers(self.alur.uow, clock=ahead, limit=10), 1)}"
            except AlurError as err:
                outcome = type(err).__name__
            except Exception:  # noqa: BLE001 - recorded: the test fails on any of these
                outcome = "foreign"
                with self.lock:
                    self.foreign.append(traceback.format_exc())
            with self.lock:
                self.ops[op] += 1
                self.outcomes[f"{op}:{outcome}"] += 1

    def run(self, start_at: float) -> dict:
        self.pool()  # connect and import everything before the start line
        time.sleep(max(0.0, start_at - time.time()))
        deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self.run_thread, args=(i, deadline), daemon=True)
                   for i in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + 30)
        hung = sum(thread.is_alive() for thread in threads)
        return {"ops": dict(self.ops), "outcomes": dict(self.outcomes), "foreign": self.foreign, "hung": hung}


def main(argv) -> int:
    command, url, seed, threads, seconds, start_at = argv
    assert command == "race"
    result = Hammer(url, int(seed), int(threads), float(seconds)).run(float(start_at))
    print(json.dumps(result), flush=True)
    sys.stdin.read()  # the parent looks at this process's database sessions, then closes our stdin
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
