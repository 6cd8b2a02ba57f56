"""B3: the web UI under load: `alur serve` (gunicorn, 2 workers) on PostgreSQL, 16 officials from a second process.

The site (webload.py): office B, a 16-step SOP whose steps cycle through four lanes, an SLA timer per step; 16
officials, four per lane; 96 open cases, 24 per lane. A second process (multiprocessing, spawn) runs one thread
per official, each with its own keep-alive HTTP connection (http.client): log in through the form once, then loop

    GET /tugas              the inbox (25 rows); pick the first row that is "mine": the four holders of a role
                            split the cases by case id modulo 4, as a disposition would, so two officials never
                            race for one step
    GET /tugas/<id>         the task page (its CSRF token is read from the page)
    POST /tugas/<id>        complete the step (urlencoded form with the token); 302 to the case page
    GET+POST /layanan/<key> the first lane's officials, after one completion in four, start a new case: as many
                            cases start as finish, and the open cases stay about as many as seeded

Reported per kind of request: n, p50, p95, p99 (ms), over the timed window after a warm-up; completed steps per
second; the CPU the web workers, the client and the web workers' PostgreSQL backends used per completed step,
counted from the moment every official has logged in (a login checks a scrypt password hash: not inbox work); how
busy the machine was (load average, share of its CPU time busy, and the share the hypervisor stole: time this
virtual machine's CPUs ran something else, which no process here can use).

Goal: >= 100 completed steps/s and p95 <= 100 ms for every kind of request.

    .venv/bin/python bench/bench_web.py            # 40 s timed after 5 s warm-up
    .venv/bin/python bench/bench_web.py --quick    # 12 s timed after 3 s warm-up
    .venv/bin/python bench/bench_web.py --threads 2,4,8     # compare gunicorn threads per worker
    .venv/bin/python bench/bench_web.py --profile  # in process: SQL statements and ms per request (starts too)
    .venv/bin/python bench/bench_web.py --profile --round-trips    # ... and round trips to PostgreSQL per request
    .venv/bin/python bench/bench_web.py --py-spy /path/to/py-spy    # record the gunicorn workers during the run
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import common
import webload
from webload import CSRF, LANES, PASSWORD, Official, Server, cpu_seconds, machine_busy, mine, officials, seed


def drive(port: int, seconds: float, warmup: float, count: int = 16, logged_in=None) -> dict:
    """Run the officials for warm-up + `seconds`; the timings of the timed window and what happened. `logged_in`
    is called once every official has logged in, as the warm-up begins."""
    people = [Official(port, name, rank, holders, role == LANES[0]) for name, role, rank, holders in officials(count)]
    outcomes: Counter = Counter()
    completions: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(people) + 1)

    def run(person: Official) -> None:
        person.login()
        barrier.wait()
        while time.perf_counter() < end:
            what = person.step()
            started = person.maybe_start() if what == "completed" else None
            with lock:
                outcomes.update([what] + ([started] if started else []))
                if what == "completed":
                    completions.append(time.perf_counter())
            if what == "idle":
                time.sleep(0.2)

    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in people]
    for thread in threads:
        thread.start()
    end = float("inf")
    barrier.wait()
    began = time.perf_counter()
    cpu_began = time.process_time()
    if logged_in is not None:
        logged_in()
    end = began + warmup + seconds
    for thread in threads:
        thread.join()
    timed_from = began + warmup
    by_kind = defaultdict(list)
    statuses: Counter = Counter()
    for person in people:
        statuses.update(person.statuses)
        for kind, started, elapsed, _ in person.samples:
            if started >= timed_from and kind not in ("login", "login_form"):
                by_kind[kind].append(elapsed)
    return {"seconds": seconds, "completed": sum(1 for t in completions if t >= timed_from),
            "latency": dict(by_kind), "outcomes": dict(outcomes), "statuses": dict(statuses),
            "client_cpu_s": time.process_time() - cpu_began}


def _drive_in_child(pipe, port: int, seconds: float, warmup: float) -> None:
    """drive() in the officials' process: says "logged in" through `pipe` as the warm-up begins, then sends the
    result (or the exception that stopped it)."""
    try:
        pipe.send(drive(port, seconds, warmup, logged_in=lambda: pipe.send("logged in")))
    except BaseException as err:  # noqa: BLE001 - handed to the parent, which raises it
        pipe.send(RuntimeError(f"{type(err).__name__}: {err}"))
    finally:
        pipe.close()


def backends(url: str) -> tuple[dict[int, float], int]:
    """({backend pid: CPU seconds used so far}, connections opened so far) of the benchmark's PostgreSQL database,
    this query's own connection left out. The CPU of a backend whose connection closed is gone from the count: a run
    that opens connections as it goes (a pool too small for its threads) shows it in the second figure."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")).scalars()
            cpu = {pid: cpu_seconds(pid) for pid in pids}
            opened = conn.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))
            return cpu, int(opened.scalar_one())
    finally:
        engine.dispose()


def _expect(message, expected):
    """A message from the officials' process: `expected` (a value, or the type of one); an exception it sent is
    raised here."""
    if isinstance(message, BaseException):
        raise message
    ok = isinstance(message, expected) if isinstance(expected, type) else message == expected
    if not ok:
        raise RuntimeError(f"unexpected message from the officials' process: {message!r}")
    return message


# --- one run ----------------------------------------------------------------------------------------------------------

def run_once(url: str, tmp: Path, args, threads: int | None) -> dict:
    server = Server(url, tmp / "data", workers=args.workers, threads=threads, log=tmp / "serve.log")
    try:
        pids = server.worker_pids()
        spies = [subprocess.Popen([args.py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                                   "--duration", str(int(args.seconds + args.warmup)), "--nonblocking",
                                   "--output", str(tmp / f"spy-{pid}.txt")], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for pid in pids] if args.py_spy else []
        # The officials run in a second process. The CPU the web workers use is counted from the moment the last
        # official has logged in: a login checks a password hash (scrypt, about 0.15 s of CPU each), which is not
        # part of working the inbox.
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        officials_process = context.Process(target=_drive_in_child, args=(there, server.port, args.seconds,
                                                                          args.warmup), daemon=True)
        officials_process.start()
        try:
            _expect(here.recv(), "logged in")
            cpu0 = {pid: cpu_seconds(pid) for pid in pids}
            database0, opened0 = backends(url)
            busy0, total0, stolen0 = machine_busy()
            load0 = os.getloadavg()[0]
            result = _expect(here.recv(), dict)
            busy1, total1, stolen1 = machine_busy()
            web_cpu = sum(cpu_seconds(pid) - cpu0[pid] for pid in pids)
            database1, opened1 = backends(url)
            database_cpu = sum(used - database0.get(pid, 0.0) for pid, used in database1.items())
        finally:
            officials_process.join(timeout=30)
            if officials_process.is_alive():
                officials_process.kill()
        for spy in spies:
            spy.wait()
    finally:
        server.stop()
    if spies:
        spy_summary(sorted(tmp.glob("spy-*.txt")), common.RESULTS / f"B3-py-spy-{threads or 'default-'}t.txt")
    wall = args.seconds + args.warmup
    done = result["completed"]
    threads = threads or int(os.environ.get("ALUR_WEB_THREADS", "8"))  # alur serve's default
    result.update(
        steps_per_s=done / args.seconds, workers=args.workers, threads=threads,
        web_cpu_ms_per_step=web_cpu * 1000 / max(1, done) * args.seconds / wall,
        client_cpu_ms_per_step=result["client_cpu_s"] * 1000 / max(1, done) * args.seconds / wall,
        postgres_cpu_ms_per_step=database_cpu * 1000 / max(1, done) * args.seconds / wall,
        connections_opened=opened1 - opened0 - 1,  # less the one backends() itself opened in between
        machine_busy_share=(busy1 - busy0) / max(1e-9, total1 - total0), load_before=load0,
        stolen_share=(stolen1 - stolen0) / max(1e-9, total1 - total0),
        load_after=os.getloadavg()[0], web_cpu_share=web_cpu / wall / (os.cpu_count() or 1))
    result["summary"] = {kind: common.summary(samples) for kind, samples in result.pop("latency").items()}
    return result


def spy_summary(files: list[Path], out: Path, top: int = 200) -> None:
    """Inclusive share of the web workers' samples per function, from py-spy's collapsed stacks."""
    inclusive, total = Counter(), 0
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit() or "check_login" in stack:  # blank lines; the 16 logins before the timed window
                continue
            frames = {re.sub(r":\d+\)$", ")", f) for f in stack.split(";")}
            total += int(count)
            for frame in frames:
                inclusive[frame] += int(count)
        path.unlink()
    lines = [f"{n / max(1, total):6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"{total} samples of the gunicorn workers (py-spy, logins left out)\n" + "\n".join(lines))
    print(f"py-spy summary: {out}")


def report(results: list[dict]) -> dict:
    rows, verdicts = [], {}
    for r in results:
        label = f"{r['workers']}w x {r['threads']}t"
        for kind in ("inbox", "task", "complete", "case", "start_form", "start"):
            s = r["summary"].get(kind)
            if s:
                rows.append([f"{label} {kind}", s["n"], s["median_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]])
        p95 = max(s["p95_ms"] for s in r["summary"].values())
        verdicts[label] = {"steps_per_s": r["steps_per_s"] >= 100, "p95": p95 <= 100}
    common.print_table(["run / request", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows, "Latency per request")
    common.print_table(
        ["run", "steps/s", "web CPU ms/step", "client CPU ms/step", "PostgreSQL CPU ms/step", "machine busy",
         "stolen", "web share", "load 1m"],
        [[f"{r['workers']}w x {r['threads']}t", r["steps_per_s"], r["web_cpu_ms_per_step"],
          r["client_cpu_ms_per_step"], r["postgres_cpu_ms_per_step"], f"{r['machine_busy_share']:.0%}",
          f"{r['stolen_share']:.0%}", f"{r['web_cpu_share']:.0%}", f"{r['load_before']:.1f}->{r['load_after']:.1f}"]
         for r in results],
        "Throughput")
    for r in results:
        print(f"  outcomes {r['outcomes']}; HTTP {r['statuses']}; PostgreSQL connections opened during the run: "
              f"{r['connections_opened']}")
    for label, v in verdicts.items():
        print(f"goal >= 100 steps/s ({label}): {'met' if v['steps_per_s'] else 'NOT met'}; "
              f"goal p95 <= 100 ms: {'met' if v['p95'] else 'NOT met'}")
    return verdicts


def profile(url: str, tmp: Path, rounds: int, round_trips: bool = False) -> dict:
    """The same mix in this process through Flask's test client: SQL statements, connection checkouts and
    milliseconds per kind of request (CPU and database waits, no HTTP), then the same again under pyinstrument.
    `round_trips`: through a proxy that counts how often a request waited for PostgreSQL (its relay threads take
    CPU and time of their own: the milliseconds are then not comparable)."""
    from pyinstrument import Profiler
    from sqlalchemy import event

    from adapters import gctune
    from webui import create_app

    proxy = None
    if round_trips:
        from tests.roundtrips import RoundTripProxy

        proxy = RoundTripProxy(url)
        url = proxy.url
    flask = create_app({"SECRET_KEY": "bench", "ENV_OVERRIDE": {"ALUR_DATABASE_URL": url,
                                                                 "ALUR_DATA_DIR": str(tmp / "data")}})
    engine = flask.extensions["alur"].engine
    counts = Counter()
    event.listen(engine, "before_cursor_execute", lambda *a: counts.update(["sql"]))
    event.listen(engine.pool, "checkout", lambda *a: counts.update(["checkout"]))
    clients = []
    for name, _, rank, holders in officials():
        client = flask.test_client()
        token = CSRF.search(client.get("/masuk").get_data(as_text=True)).group(1)
        assert client.post("/masuk", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code \
            == 302
        clients.append((client, rank, holders))
    per_kind = defaultdict(lambda: {"n": 0, "sql": 0, "checkout": 0, "turns": 0, "seconds": 0.0, "cpu": 0.0})
    gctune.tune()  # the garbage collector as in a gunicorn worker (adapters/serve.py)

    def call(kind, method, path, **kw):
        before, started, cpu = Counter(counts), time.perf_counter(), time.thread_time()
        turns = proxy.turns if proxy else 0
        response = getattr(client, method)(path, **kw)
        entry = per_kind[kind]
        entry["turns"] += proxy.turns - turns if proxy else 0
        entry["n"] += 1
        entry["seconds"] += time.perf_counter() - started
        entry["cpu"] += time.thread_time() - cpu
        for key in ("sql", "checkout"):
            entry[key] += counts[key] - before[key]
        return response

    profiler = Profiler(interval=0.0005)
    for index in range(2 * rounds):
        if index == rounds:
            profiler.start()
        client, rank, holders = clients[index % len(clients)]
        page = call("inbox", "get", "/tugas").get_data(as_text=True)
        mine_ = mine(page, rank, holders)
        if mine_:
            token = CSRF.search(call("task", "get", f"/tugas/{mine_[0]}").get_data(as_text=True)).group(1)
            where = call("complete", "post", f"/tugas/{mine_[0]}", data={"csrf_token": token}).headers["Location"]
            call("case", "get", urlsplit(where).path)
            # The first lane's officials start a case after one completion in four, as in the run over HTTP.
            if index % len(clients) % len(LANES) == 0 and index // len(clients) % 4 == 0:
                form = call("start_form", "get", f"/layanan/{webload.KEY}").get_data(as_text=True)
                token = CSRF.search(form).group(1)
                assert call("start", "post", f"/layanan/{webload.KEY}",
                            data={"office": webload.OFFICE, "csrf_token": token}).status_code == 302
        if index == rounds - 1:
            measured = {kind: {"n": e["n"], "sql_per_request": e["sql"] / e["n"],
                               "checkouts_per_request": e["checkout"] / e["n"], "ms": e["seconds"] * 1000 / e["n"],
                               **({"round_trips_per_request": e["turns"] / e["n"]} if proxy else {}),
                               "cpu_ms": e["cpu"] * 1000 / e["n"]}
                        for kind, e in per_kind.items()}
    profiler.stop()
    if proxy:
        proxy.close()
    common.print_table(["request", "n", "SQL statements", "connection checkouts", "round trips", "ms in-process",
                        "CPU ms"],
                       [[k, m["n"], m["sql_per_request"], m["checkouts_per_request"],
                         m.get("round_trips_per_request", "-"), m["ms"], m["cpu_ms"]]
                        for k, m in measured.items()], "Per request, in-process (no HTTP), unprofiled")
    out = common.RESULTS / "B3-profile.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"pyinstrument profile of {rounds} more rounds: {out}")
    return measured


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 s timed after 3 s warm-up, fewer cases")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--cases", type=int, default=96,
                        help="open cases seeded (default 96: 24 per lane, so a lane's steps fit the inbox's first "
                             "page of 25)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", default="", help="comma-separated gunicorn threads per worker to compare "
                                                      "(default: alur serve's own setting)")
    parser.add_argument("--profile", type=int, nargs="?", const=400, metavar="ROUNDS",
                        help="profile ROUNDS rounds in-process with pyinstrument instead of the HTTP run")
    parser.add_argument("--round-trips", action="store_true",
                        help="with --profile: count each request's round trips to PostgreSQL through a proxy")
    parser.add_argument("--py-spy", metavar="PATH", help="record the web workers with this py-spy binary during "
                                                          "the run; writes B3-py-spy-<threads>t.txt")
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (12.0 if args.quick else 40.0)
    args.warmup = 3.0 if args.quick else 5.0
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    url, drop, version = common.postgres_schema()
    if url is None:
        print(f"B3 needs PostgreSQL: {drop}")
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="alur-b3-") as name:
            tmp = Path(name)
            began = time.perf_counter()
            seed(url, tmp / "data", args.cases)
            print(f"B3: seeded {args.cases} open cases of a 16-step SOP, 16 officials, in "
                  f"{time.perf_counter() - began:.1f} s; {args.warmup:.0f} s warm-up + {args.seconds:.0f} s timed")
            if args.profile:
                measured = profile(url, tmp, args.profile, args.round_trips)
                common.write_result("B3-profile", {"rounds": args.profile, "per_request": measured,
                                                   "machine": common.machine(version)})
                return 0
            results = [run_once(url, tmp, args, int(t) if t else None) for t in (args.threads.split(",") or [""])]
    finally:
        drop()
    verdicts = report(results)
    common.write_result("B3", {
        "parameters": {"cases": args.cases, "officials": 16, "seconds": args.seconds, "warmup": args.warmup,
                       "steps_per_case": 16, "mix": "inbox, task page, complete; ~1 start per 16 steps"},
        "results": results, "goal": {"steps_per_s": 100, "p95_ms": 100}, "goal_met": verdicts,
        "machine": common.machine(version)}, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
