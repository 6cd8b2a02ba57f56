"""B5: due timers fired by real `alur worker` processes on PostgreSQL: throughput and lag.

The diagram is an SOP step with its standard time: a user task ("Periksa berkas", lane Petugas) with a
non-interrupting PT1H boundary timer (the SLA). A breach records `timer_fired` and `sla_breached`, marks the step
overdue and queues e-mail to the role's holders and the supervisor (4 holders of Petugas, 2 with an address, and
an admin with one: 3 outbox rows per breach). E-mail is queued, not sent (no SMTP server): sending is the worker's
other job and not part of this goal. Cases are started through `services.start` (2 creator processes, not timed)
with a clock an hour or more in the past, so their SLA falls due as it would for a real case.

  throughput  N cases whose SLA is already due are started while no worker runs; then W `alur worker` processes
              (the CLI's default --interval and --batch unless given) drain them. fired/s = N / (last fire - first
              fire); the rate from the workers' spawn (start-up included) is reported too, and the CPU the
              workers and their PostgreSQL backends spent per timer (from /proc, after start-up), which other
              processes on the machine do not inflate as they do the wall-clock rate.
  lag         N timers fall due evenly at --rate per second (below the measured capacity) while W fresh workers
              run. The cases are started due a day ahead; once all exist their timer and step rows are moved to
              fall due from --warmup s after the workers' spawn (the worker fires on the row's due time), so a slow
              creation cannot eat into the window. Lag = when the `timer_fired` audit row was inserted (a trigger
              of the throwaway schema records clock_timestamp(), independent of the code under test) minus the
              timer's due time.

Both phases check that every timer fired exactly once (one `timer_fired` event each, none left waiting).
Goal (issue 8): >= 200 fired/s and lag p99 <= 2 s with 2 workers on this 2-core machine, which PostgreSQL and
the workers share. Autovacuum is off on the test server: after creating cases the bench runs ANALYZE, as
autovacuum would.

    .venv/bin/python bench/bench_timers.py            # 10,000 timers per phase (several minutes)
    .venv/bin/python bench/bench_timers.py --quick    # 1,000 timers per phase
    .venv/bin/python bench/bench_timers.py --py-spy   # also where the workers' CPU goes (throughput phase)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench import common  # noqa: E402

KEY, OFFICE, ROLE, STARTER = "bench_sla", "B", "Petugas", "petugas3"
SLA = timedelta(hours=1)
ALUR = Path(sys.executable).with_name("alur")
GOAL_RATE, GOAL_P99_S = 200.0, 2.0
WORKER_APP = f"alur-b5-{uuid.uuid4().hex[:8]}"  # the workers' connections, to find their backends' CPU

DIAGRAM = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="http://alur.local/bench">
  <bpmn:process id="{KEY}" name="Benchmark SLA" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="Lane_P" name="{ROLE}">{"".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>"
      for r in ("start", "Periksa", "Sla", "Terlambat", "end"))}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/><bpmn:sequenceFlow id="F1" sourceRef="start" targetRef="Periksa"/>
    <bpmn:userTask id="Periksa" name="1. Periksa berkas"/>
    <bpmn:boundaryEvent id="Sla" cancelActivity="false" attachedToRef="Periksa"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Sla" targetRef="Terlambat"/><bpmn:endEvent id="Terlambat"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Periksa" targetRef="end"/><bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()

# Bench-only instrumentation: when each timer_fired row was inserted, by the database's own clock.
TRIGGER = """
CREATE TABLE bench_fired (timer text, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION bench_note_fired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.type = 'timer_fired' THEN INSERT INTO bench_fired (timer) VALUES ((NEW.data_json::json)->>'timer'); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER bench_note_fired AFTER INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION bench_note_fired();
"""


# --- setting up -------------------------------------------------------------------------------------------------------

def build_app(url: str, data_dir: Path):
    from adapters import bootstrap

    return bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(data_dir)})


def prepare(url: str, data_dir: Path) -> None:
    """Schema, office, users (some with an address), the deployed diagram and the fired-at trigger."""
    from adapters import bootstrap
    from adapters.sql import Office
    from engine import services
    from engine.passwords import hash_password

    app = build_app(url, data_dir)
    bootstrap.upgrade_schema(app)
    password, now = hash_password("rahasia123"), services.utcnow()
    with app.uow() as uow:
        uow.directory.add_office(Office(OFFICE, "Kantor Bench", "Asia/Jakarta", "elapsed"))
        for i in range(1, 5):
            uow.directory.add_user(f"petugas{i}", password, f"Petugas {i}", f"petugas{i}@kanwil.test" if i <= 2
                                   else None, now)
            uow.directory.grant(f"petugas{i}", ROLE, OFFICE)
        uow.directory.add_user("kepala", password, "Kepala Kantor", "kepala@kanwil.test", now)
        uow.directory.grant("kepala", "admin", OFFICE)
        uow.commit()
    services.deploy(app.uow(), [("bench_sla.bpmn", DIAGRAM)], office=OFFICE)
    with app.engine.begin() as conn:
        conn.exec_driver_sql(TRIGGER)
    app.engine.dispose()


_CREATOR = {}


def _create(url: str, data_dir: str, started: list[str]) -> int:
    """In a creator process: start one case per clock (ISO times)."""
    from engine import services

    app = _CREATOR.get(url) or _CREATOR.setdefault(url, build_app(url, Path(data_dir)))
    for iso in started:
        moment = datetime.fromisoformat(iso)
        services.start(app.uow(), KEY, actor=STARTER, office=OFFICE, clock=lambda moment=moment: moment)
    return len(started)


def create_cases(url: str, data_dir: Path, clocks: list[datetime], creators: int) -> float:
    """Start one case per clock in `creators` processes, then ANALYZE; returns the seconds it took."""
    began, done = time.perf_counter(), 0
    chunk = max(50, math.ceil(len(clocks) / (creators * 8)))
    chunks = [[c.isoformat() for c in clocks[i:i + chunk]] for i in range(0, len(clocks), chunk)]
    with ProcessPoolExecutor(creators, mp_context=get_context("spawn")) as pool:
        for count in pool.map(_create, [url] * len(chunks), [str(data_dir)] * len(chunks), chunks):
            done += count
            print(f"\r  started {done}/{len(clocks)} cases", end="", flush=True)
    print()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - began


# --- the workers ------------------------------------------------------------------------------------------------------

def spawn_workers(url: str, data_dir: Path, args) -> list[subprocess.Popen]:
    env = {**os.environ, "ALUR_DATABASE_URL": f"{url}&application_name={WORKER_APP}", "ALUR_DATA_DIR": str(data_dir)}
    env.pop("ALUR_SMTP_HOST", None)
    flags = [*(["--interval", str(args.interval)] if args.interval is not None else []),
             *(["--batch", str(args.batch)] if args.batch is not None else [])]
    command = [*(args.worker_command.split() if args.worker_command else [str(ALUR)]), "worker", *flags]
    return [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(args.workers)]


def stop_workers(procs) -> list[str]:
    """Stop the workers; what those that failed said."""
    exited = [proc.poll() is not None for proc in procs]
    problems = []
    for proc, gone in zip(procs, exited, strict=True):
        if not gone:
            proc.send_signal(signal.SIGTERM)
    for proc, gone in zip(procs, exited, strict=True):
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if gone or "Traceback" in err:
            problems.append(f"exit {proc.returncode}: {err[-2000:]}")
    return problems


def spy(procs, out_dir: Path) -> list[tuple[subprocess.Popen, Path]]:
    """py-spy on each worker (on-CPU samples only, as collapsed stacks)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [(subprocess.Popen([str(ALUR.with_name("py-spy")), "record", "--pid", str(proc.pid), "--rate", "200",
                               "--format", "raw", "--nonblocking", "--output", str(out_dir / f"B5-pyspy-{i}.txt")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out_dir / f"B5-pyspy-{i}.txt")
            for i, proc in enumerate(procs, 1)]


def spy_summary(spies, top: int = 25) -> list[dict]:
    """Stop py-spy; the functions with the most samples: share inside them (inclusive) and in them (own)."""
    inclusive, own, total = Counter(), Counter(), 0
    for proc, out in spies:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        for line in out.read_text().splitlines() if out.exists() else []:
            stack, _, count = line.rpartition(" ")
            frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")" for f in stack.split(";")]
            total += int(count)
            inclusive.update({frame: int(count) for frame in set(frames)})
            own[frames[-1]] += int(count)
    return [{"function": f, "inclusive": round(n / total, 3), "own": round(own[f] / total, 3)}
            for f, n in inclusive.most_common(top)] if total else []


def cpu_used(engine, procs) -> dict:
    """CPU seconds the workers and their PostgreSQL backends (found by application_name) have used so far."""
    def seconds(pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    with engine.connect() as conn:
        backends = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                {"name": WORKER_APP}).scalars().all()
    return {"workers_s": sum(seconds(p.pid) for p in procs), "postgres_s": sum(seconds(p) for p in backends)}


def wait_drained(engine, expected_fired: int, timeout: float, on_first=None) -> bool:
    """Poll until `expected_fired` timers fired and none waits; `on_first()` once the first ones fired."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            fired = conn.execute(text("SELECT count(*) FROM bench_fired")).scalar_one()
            if fired and on_first:
                on_first(fired)
                on_first = None
            if fired >= expected_fired and not conn.execute(text(
                    "SELECT count(*) FROM timers WHERE state = 'waiting'")).scalar_one():
                return True
        time.sleep(0.1)
    return False


def fired_rows(engine, since_id: int) -> list[tuple[datetime, datetime]]:
    """(due, fired at) of every fire recorded after audit row `since_id`."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.due_at, f.at FROM bench_fired f JOIN timers t ON t.id = f.timer "
            "JOIN audit_events a ON a.type = 'timer_fired' AND (a.data_json::json)->>'timer' = f.timer "
            "WHERE a.id > :since"), {"since": since_id}).all()
    return [(r.due_at.replace(tzinfo=UTC), r.at.astimezone(UTC)) for r in rows]


def exactly_once(engine, expected: int) -> dict:
    with engine.connect() as conn:
        counts = dict(conn.execute(text(
            "SELECT n, count(*) FROM (SELECT count(*) AS n FROM audit_events WHERE type = 'timer_fired' "
            "GROUP BY (data_json::json)->>'timer') x GROUP BY n")).all())
        left = conn.execute(text("SELECT count(*) FROM timers WHERE state = 'waiting'")).scalar_one()
        mails = conn.execute(text("SELECT count(*) FROM outbox WHERE kind = 'sla_breached'")).scalar_one()
        last_id = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_events")).scalar_one()
    return {"fired_once": counts.get(1, 0), "fired_more_than_once": sum(c for n, c in counts.items() if n > 1),
            "left_waiting": left, "sla_mails_queued": mails, "last_audit_id": last_id,
            "ok": counts.get(1, 0) == expected and len(counts) == 1 and left == 0}


# --- the phases -------------------------------------------------------------------------------------------------------

def phase_throughput(url, data_dir, engine, args, n) -> dict:
    print(f"\nthroughput: starting {n} cases whose SLA is already due (no worker running)")
    now = datetime.now(UTC)
    created = create_cases(url, data_dir, [now - SLA - timedelta(minutes=10, milliseconds=-i) for i in range(n)],
                           args.creators)
    print(f"  {n / created:.0f} cases/s created; {args.workers} workers draining")
    since, spawned = exactly_once(engine, 0)["last_audit_id"], datetime.now(UTC)
    procs = spawn_workers(url, data_dir, args)
    spies = spy(procs, Path(args.output).parent if args.output else common.RESULTS) if args.py_spy else []
    base = {}  # the CPU used once the first timers fired: the workers' start-up is left out
    try:
        drained = wait_drained(engine, n, max(120.0, n / 10), lambda fired: base.update(cpu_used(engine, procs),
                                                                                         fired=fired))
        cpu = {k: v - base.get(k, 0) for k, v in cpu_used(engine, procs).items()}
        hot = spy_summary(spies)
    finally:
        problems = stop_workers(procs)
    times = sorted(at for _, at in fired_rows(engine, since))
    if not times:
        raise SystemExit(f"no timer fired; the workers said: {problems or 'nothing'}")
    span, counted = max((times[-1] - times[0]).total_seconds(), 1e-6), n - base.get("fired", 0)
    tenth = max(1, len(times) // 10)  # does the sweep slow down as fired timers pile up behind it?
    return {"timers": n, "fired": len(times), "drained": drained, "create_cases_per_s": n / created,
            "drain_s": span, "fired_per_s": len(times) / span,
            "fired_per_s_from_spawn": len(times) / (times[-1] - spawned).total_seconds(),
            "fired_per_s_by_tenth": [round(tenth / max((times[i + tenth] - times[i]).total_seconds(), 1e-6), 1)
                                     for i in range(0, len(times) - tenth, tenth)],
            "cpu_ms_per_timer": {"workers": cpu["workers_s"] * 1000 / counted,
                                 "postgres": cpu["postgres_s"] * 1000 / counted},
            # What two cores could fire if they did only this (other processes on the machine left out).
            "fired_per_s_on_2_cores": 2 * counted / max(cpu["workers_s"] + cpu["postgres_s"], 1e-6),
            "check": exactly_once(engine, n), "worker_errors": problems, "py_spy_top": hot}


def phase_lag(url, data_dir, engine, args, n) -> dict:
    window = n / args.rate
    print(f"\nlag: {n} timers falling due over {window:.0f} s ({args.rate:.0f}/s) while the workers run")
    anchor = datetime.now(UTC) + timedelta(days=1)
    before = exactly_once(engine, 0)["fired_once"]
    create_cases(url, data_dir, [anchor + timedelta(seconds=i / args.rate) - SLA for i in range(n)], args.creators)
    t0 = datetime.now(UTC) + timedelta(seconds=args.warmup)
    with engine.begin() as conn:  # from a day ahead to just ahead: see the docstring
        for table in ("timers", "work_items"):
            conn.execute(text(f"UPDATE {table} SET due_at = due_at - :shift WHERE due_at >= :anchor"),
                         {"shift": anchor - t0, "anchor": anchor.replace(tzinfo=None)})
    since = exactly_once(engine, 0)["last_audit_id"]
    procs = spawn_workers(url, data_dir, args)
    try:
        drained = wait_drained(engine, before + n, args.warmup + window + max(60.0, n / 20))
    finally:
        problems = stop_workers(procs)
    rows = sorted(fired_rows(engine, since))
    lags = [max(0.0, (at - due).total_seconds()) for due, at in rows]
    stats, tenth = common.summary(lags) if lags else {}, max(1, len(lags) // 10)
    return {"timers": n, "fired": len(rows), "drained": drained, "rate_per_s": args.rate, "window_s": window,
            "fired_before_due": sum(1 for due, at in rows if at < due),
            **{f"lag_{k}_s": stats.get(f"{m}_ms", 0) / 1000 for k, m in
               (("p50", "median"), ("p95", "p95"), ("p99", "p99"), ("max", "max"))},
            # The worst lag in each tenth of the window: a burst (the machine busy elsewhere) or a steady rise?
            "lag_max_s_by_tenth": [round(max(lags[i:i + tenth]), 2) for i in range(0, len(lags), tenth)],
            "check": exactly_once(engine, before + n), "worker_errors": problems}


# --- main -------------------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 timers per phase instead of 10,000")
    parser.add_argument("--timers", type=int, help="timers in the throughput phase (default 10,000; --quick 1,000)")
    parser.add_argument("--lag-timers", type=int, help="timers in the lag phase (default: as --timers)")
    parser.add_argument("--rate", type=float, help="timers falling due per second in the lag phase (default 125, "
                                                   "or 3/4 of the throughput phase's fired/s if that is lower)")
    parser.add_argument("--warmup", type=float, default=4.0, help="s from the lag workers' spawn to the first due")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, help="the workers' --interval (default: the CLI's)")
    parser.add_argument("--batch", type=int, help="the workers' --batch (default: the CLI's)")
    parser.add_argument("--worker-command", help="run this instead of `alur` (another build, for before/after)")
    parser.add_argument("--creators", type=int, default=2, help="processes starting the cases")
    parser.add_argument("--phases", default="throughput,lag")
    parser.add_argument("--py-spy", action="store_true", help="sample the throughput phase's workers with py-spy; "
                        "prints the hottest functions, writes B5-pyspy-<n>.txt next to --output")
    parser.add_argument("--output", help="result file (default bench/results/B5.json)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    n = args.timers or (1000 if args.quick else 10_000)
    n_lag, phases = args.lag_timers or n, [p.strip() for p in args.phases.split(",") if p.strip()]
    url, drop, version = common.postgres_schema()
    if url is None:
        print(f"B5 needs PostgreSQL: {drop}")
        common.write_result("B5", {"notes": [f"postgresql skipped: {drop}"]}, args.output)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the workers and drop the schema on the way out
    results, notes = {}, []
    print(f"B5: due SLA timers, {args.workers} `alur worker` processes on PostgreSQL {version}")
    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        data_dir, engine = Path(tmp) / "data", create_engine(url)
        try:
            prepare(url, data_dir)
            if "throughput" in phases:
                results["throughput"] = phase_throughput(url, data_dir, engine, args, n)
            if "lag" in phases:
                capacity = results.get("throughput", {}).get("fired_per_s", GOAL_RATE)
                args.rate = args.rate or min(125.0, 0.75 * capacity)
                if args.rate > capacity:
                    notes.append(f"the lag phase's {args.rate:.0f}/s is above the measured capacity "
                                 f"{capacity:.0f}/s: the backlog grows and so does the lag")
                results["lag"] = phase_lag(url, data_dir, engine, args, n_lag)
        finally:
            engine.dispose()
            drop()
    verdicts = report(results, notes)
    common.write_result("B5", {
        "parameters": {"timers": n, "lag_timers": n_lag, "rate": args.rate, "workers": args.workers,
                       "interval": args.interval, "batch": args.batch, "creators": args.creators,
                       "worker_command": args.worker_command,
                       "diagram": "user task with a non-interrupting PT1H boundary timer (SLA)"},
        "results": results, "goals": {"fired_per_s": GOAL_RATE, "lag_p99_s": GOAL_P99_S}, "goal_met": verdicts,
        "notes": notes, "machine": common.machine(version)}, args.output)
    return 0


def report(results: dict, notes: list[str]) -> dict:
    """Print the table, the CPU figures, the profile and the verdicts; returns the verdicts."""
    through, lag = results.get("throughput"), results.get("lag")
    rows = []
    if through:
        rows.append(["throughput", through["timers"], through["fired"], f"{through['fired_per_s']:.0f}/s",
                     f"{through['fired_per_s_from_spawn']:.0f}/s", "", "", "", through["check"]["ok"]])
    if lag:
        rows.append([f"lag ({lag['rate_per_s']:.0f}/s due)", lag["timers"], lag["fired"], "", "", lag["lag_p50_s"],
                     lag["lag_p95_s"], lag["lag_p99_s"], lag["check"]["ok"]])
    common.print_table(["phase", "timers", "fired", "fired/s", "from spawn", "lag p50 s", "p95 s", "p99 s",
                        "exactly once"], rows)
    if through:
        cpu = through["cpu_ms_per_timer"]
        print(f"\nCPU per timer: workers {cpu['workers']:.1f} ms, their PostgreSQL backends {cpu['postgres']:.1f} ms "
              f"(after start-up): {through['fired_per_s_on_2_cores']:.0f} fired/s if two cores did only this")
        if through["py_spy_top"]:
            common.print_table(["function (py-spy, the workers' CPU samples)", "inclusive", "own"],
                               [[h["function"], f"{h['inclusive']:.0%}", f"{h['own']:.0%}"]
                                for h in through["py_spy_top"]])
    for name, r in results.items():
        for err in r["worker_errors"]:
            print(f"\n{name}: a worker failed:\n{err}")
        if not r["check"]["ok"]:
            print(f"\n{name}: exactly-once check failed: {json.dumps(r['check'])}")
    for note in notes:
        print(f"note: {note}")
    verdicts = {}
    if through:
        verdicts["fired_per_s"] = ok = through["fired_per_s"] >= GOAL_RATE
        print(f"goal >= {GOAL_RATE:.0f} fired/s: {'met' if ok else 'NOT met'} ({through['fired_per_s']:.0f}/s)")
    if lag:
        verdicts["lag_p99"] = ok = lag["lag_p99_s"] <= GOAL_P99_S
        print(f"goal lag p99 <= {GOAL_P99_S:.0f} s: {'met' if ok else 'NOT met'} ({lag['lag_p99_s']:.2f} s)")
    return verdicts


if __name__ == "__main__":
    sys.exit(main())
