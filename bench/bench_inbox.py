"""B4: the inbox page (GET /tugas) with 1k, 10k and 100k open cases in PostgreSQL.

The real Flask app (webui.create_app) on an app built with adapters.bootstrap.build + upgrade_schema, the seed SOPs
deployed and the demo accounts made (adapters.demo.seed), 8 more offices. Cases are bulk-loaded with COPY as rows the
engine would have written: an instance of a deployed SOP (a placeholder workflow state: the inbox never reads it)
with one ready work item at a random step and a completed work item for each step before it, plus finished cases
with every step completed. Realistic spread:

  - SOP 001 (a template every office runs) is 60% of the cases, the four office-bound SOPs 10% each; DKI, the
    capital, has three times the SOP 001 cases of each of the other 11 offices;
  - 1% of the open cases are suspended; 10% of the ready items are claimed by a colleague or, up to 30 of
    them, by the official;
  - ready_at spread over the last 30 days (most recent), due 15 minutes to 3 days after, 10% without a standard
    time; items past due are marked overdue as the timer worker would.

The official is "bench.kasubbag", holding Kasubbag Program dan Pelaporan and Pelaksana in DKI: about 5% of the
ready items are theirs. Logged in through the login form once, a test client then GETs the inbox page as it is,
and with each filter, the other sort and the second page. Timed: the whole request (session load, queries,
template). Each size has its own schema, all loaded first; the requests then go round the sizes and pages in
turn, so that the load other processes put on the machine falls on every size alike.

Goal: p95 of the inbox page <= 30 ms at 100k open cases, and p95(100k) / p95(1k) <= 1.5.

    .venv/bin/python bench/bench_inbox.py             # 1k, 10k, 100k; 200 requests per page and size
    .venv/bin/python bench/bench_inbox.py --quick     # 1k, 10k, 100k without finished cases; 30 requests
    .venv/bin/python bench/bench_inbox.py --explain   # also EXPLAIN ANALYZE the inbox queries at each size
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from common import RESULTS, machine, postgres_schema, print_table, summary, write_result
from sqlalchemy import event, text

from adapters import bootstrap, demo
from adapters.sql import Office
from engine import services
from webui import create_app

USER, PASSWORD = "bench.kasubbag", "rahasia-bench-123"
GRANTS = (("Kasubbag Program dan Pelaporan", "DKI"), ("Pelaksana", "DKI"))
TEMPLATE = "sop_001_standar_pelayanan"
EXTRA_OFFICES = [f"K{n:02d}" for n in range(1, 9)]
PAGES = {
    "default": "/tugas",
    "waiting": "/tugas?sort=waiting",
    "overdue": "/tugas?show=overdue",
    "mine": "/tugas?show=mine",
    "unclaimed": "/tugas?show=unclaimed",
    "sop": f"/tugas?sop={TEMPLATE}",
    "page 2": "/tugas?page=2",
}
DUE_AFTER = [timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3), timedelta(days=1), timedelta(days=3)]
MAX_OWN_CLAIMS = 30  # a person works on a few dozen steps at once, however many wait in the office
_TOTAL = re.compile(r'<small class="muted">\(([^)]*)\)</small></h1>')
_ROW = re.compile(r'<tr class="[^"]*" data-item="')


# --- the data -----------------------------------------------------------------------------------------------------

class Loader:
    """Bulk-loads consistent instances and work items of the deployed seed SOPs, continuing where it stopped."""

    def __init__(self, app, seed: int, finished_ratio: float, vacuum: bool = True):
        self.app, self.rng, self.finished_ratio, self.vacuum = app, random.Random(seed), finished_ratio, vacuum
        with app.uow(write=False) as uow:
            self.deployments = [uow.deployments.latest(key) for key, _ in uow.deployments.names()]
        offices = ["MALUT", "DKI", "BABEL", "BENGKULU", *EXTRA_OFFICES]
        self.template_offices = offices
        self.template_weights = [3 if o == "DKI" else 1 for o in offices]
        self.weights = [0.6 if d.key == TEMPLATE else 0.1 for d in self.deployments]
        self.next_id, self.open, self.own_claims = 1, 0, 0
        self.now = datetime.now(UTC).replace(tzinfo=None)

    def grow_to(self, open_cases: int) -> float:
        """Add cases until `open_cases` are open; returns the seconds it took (COPY + VACUUM ANALYZE)."""
        started = time.perf_counter()
        adding = open_cases - self.open
        finished = int(adding * self.finished_ratio)
        instances, items = [], []
        for n in range(adding + finished):
            self._case(n >= adding, instances, items)
        raw = self.app.engine.raw_connection()
        try:
            with raw.cursor() as cur:
                # The secondary indexes are built after the load, as they stand (faster than maintaining them).
                cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                            "AND tablename = 'work_items' AND indexname NOT LIKE 'pk_%'")
                indexes = cur.fetchall()
                for name, _ in indexes:
                    cur.execute(f'DROP INDEX "{name}"')
                with cur.copy("COPY instances (id, deployment_id, key, version, office, number, status, state, "
                              "serializer_version, row_version, started_by, started_at, ended_at) FROM STDIN") as cp:
                    for row in instances:
                        cp.write_row(row)
                with cur.copy("COPY work_items (id, instance_id, step_id, step_name, lane, role, office, state, "
                              "ready_at, due_at, overdue, claimed_by, claimed_at, completed_by, completed_at, "
                              "suspended, process_key) "
                              "FROM STDIN") as cp:
                    for row in items:
                        cp.write_row(row)
                for _, definition in indexes:
                    cur.execute(definition)
                cur.execute("SELECT setval(pg_get_serial_sequence('instances', 'id'), (SELECT max(id) FROM instances))")
            raw.commit()
            # As autovacuum would soon (it vacuums after bulk inserts too, since PostgreSQL 13): the statistics, and
            # the visibility map that lets the inbox's count read its index alone. On its own, it may meet ours.
            raw.driver_connection.autocommit = True  # VACUUM runs outside a transaction
            for table in ("instances", "work_items"):
                for attempt in range(5):
                    try:
                        with raw.cursor() as cur:
                            cur.execute(f"{'VACUUM ANALYZE' if self.vacuum else 'ANALYZE'} {table}")
                        break
                    except psycopg.errors.DeadlockDetected:
                        time.sleep(0.5 * (attempt + 1))
            raw.driver_connection.autocommit = False
        finally:
            raw.close()
        self.open = open_cases
        return time.perf_counter() - started

    def _case(self, finished: bool, instances: list, items: list) -> None:
        rng, now = self.rng, self.now
        deployment = rng.choices(self.deployments, self.weights)[0]
        office = deployment.office or rng.choices(self.template_offices, self.template_weights)[0]
        steps = deployment.steps
        current = len(steps) if finished else rng.randrange(len(steps))
        age = min(rng.expovariate(1 / (2 * 86400)), 30 * 86400)
        ready_at = now - timedelta(seconds=age)
        started_at = ready_at - timedelta(hours=current * rng.uniform(0.5, 6))
        status = "completed" if finished else ("suspended" if rng.random() < 0.01 else "running")
        instance_id = self.next_id
        self.next_id += 1
        instances.append((instance_id, deployment.id, deployment.key, deployment.version, office,
                          f"BENCH-{instance_id:07d}", status, "{}", "bench", 1, "bench", started_at,
                          ready_at if finished else None))
        when = started_at
        for step in steps[:current]:
            done = min(when + timedelta(hours=rng.uniform(0.2, 5)), ready_at)
            items.append((str(uuid.uuid4()), instance_id, step.id, step.name, step.lane, step.lane, office,
                          "completed", when, when + DUE_AFTER[1], False, None, None, "pegawai", done, False,
                          deployment.key))
            when = done
        if finished:
            return
        step = steps[current]
        due_at = None if rng.random() < 0.1 else ready_at + rng.choice(DUE_AFTER)
        claimed_by = None
        if rng.random() < 0.1:
            granted = (step.lane, office) in GRANTS
            mine = granted and self.own_claims < MAX_OWN_CLAIMS and rng.random() < 0.4
            self.own_claims += mine
            colleague = f"rekan.{rng.randrange(20)}" if granted else f"pegawai.{office.lower()}.{rng.randrange(20)}"
            claimed_by = USER if mine else colleague
        items.append((str(uuid.uuid4()), instance_id, step.id, step.name, step.lane, step.lane, office, "ready",
                      ready_at, due_at, bool(due_at and due_at < now - timedelta(minutes=1)), claimed_by,
                      ready_at + timedelta(minutes=5) if claimed_by else None, None, None, status == "suspended",
                      deployment.key))


def prepare(url: str, data_dir: Path):
    app = bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(data_dir)})
    bootstrap.upgrade_schema(app)
    demo.seed(app)
    with app.uow() as uow:
        for code in EXTRA_OFFICES:
            uow.directory.add_office(Office(code, f"Kanwil {code}", "Asia/Makassar", "working"))
        uow.directory.add_user(USER, _hash(PASSWORD), "Kasubbag Bench", None, services.utcnow())
        for role, office in GRANTS:
            uow.directory.grant(USER, role, office)
        for n in range(20):  # the colleagues who claim items
            uow.directory.add_user(f"rekan.{n}", _hash(PASSWORD), f"Rekan {n}", None, services.utcnow())
            uow.directory.grant(f"rekan.{n}", GRANTS[n % 2][0], "DKI")
        uow.commit()
    return app


def _hash(password: str, cache={}) -> str:  # noqa: B006 - one scrypt for every account
    if password not in cache:
        from engine.passwords import hash_password

        cache[password] = hash_password(password)
    return cache[password]


# --- the requests -------------------------------------------------------------------------------------------------

def login(flask):
    client = flask.test_client()
    page = client.get("/masuk").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    response = client.post("/masuk", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    return client


class Statements:
    """Counts the SQL statements of a request and keeps the last request's (statement, parameters)."""

    def __init__(self, engine):
        self.recorded: list = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, parameters, _context, _many):
        self.recorded.append((statement, parameters))


class Site:
    """One size: its own PostgreSQL schema, app, logged-in client and statement counter."""

    def __init__(self, size: int, finished: float, seed: int, folder: Path, config: dict, vacuum: bool = True):
        self.size = size
        self.url, self.drop, self.pg_version = postgres_schema()
        if self.url is None:
            raise SystemExit(f"B4 needs PostgreSQL: {self.drop}")
        self.app = None
        try:
            self.app = prepare(self.url, folder / f"data-{size}")
            self.load_s = Loader(self.app, seed, finished, vacuum).grow_to(size)
            self.counts = _counts(self.app)
            self.client = login(create_app({"SECRET_KEY": "bench", "PASSWORD_REHASH": False, **config},
                                           alur=self.app))
            self.statements = Statements(self.app.engine)
        except BaseException:
            self.close()
            raise

    def get(self, url: str) -> tuple[float, object]:
        self.statements.recorded.clear()
        started = time.perf_counter()
        response = self.client.get(url)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"GET {url} at {self.size}: {response.status_code}")
        return elapsed, response

    def close(self) -> None:
        if self.app is not None:
            self.app.engine.dispose()
        self.drop()


def measure(sites: list, requests: int, warmup: int = 5) -> dict:
    """Time every page on every size, interleaved (page by page, size by size, round after round), so the load
    other processes put on the machine meets every size alike."""
    samples = {site.size: {name: [] for name in PAGES} for site in sites}
    shown = {}
    for round_ in range(warmup + requests):
        for name, url in PAGES.items():
            for site in sites:
                elapsed, response = site.get(url)
                if round_ >= warmup:
                    samples[site.size][name].append(elapsed)
                if (site.size, name) not in shown:
                    page = response.get_data(as_text=True)
                    shown[site.size, name] = (_TOTAL.search(page).group(1), len(_ROW.findall(page)),
                                              len(site.statements.recorded))
    return {size: {name: {**summary(values), "shown_total": shown[size, name][0], "rows": shown[size, name][1],
                          "statements": shown[size, name][2]} for name, values in pages.items()}
            for size, pages in samples.items()}


def explain(app, client, statements, out) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every statement of one request per page that reads work_items."""
    for name, url in PAGES.items():
        statements.recorded.clear()
        client.get(url)
        raw = app.engine.raw_connection()
        try:
            with raw.cursor() as cur:
                for statement, parameters in list(statements.recorded):
                    if "work_items" not in statement:
                        continue
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                    plan = "\n".join(r[0] for r in cur.fetchall())
                    out.append(f"--- {name}: {url}\n{statement}\n{parameters}\n{plan}\n")
            raw.rollback()
        finally:
            raw.close()


# --- main ---------------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 requests per page, no finished cases")
    parser.add_argument("--sizes", default="1000,10000,100000", help="open cases, ascending")
    parser.add_argument("--requests", type=int, help="timed requests per page and size (default 200, --quick 30)")
    parser.add_argument("--finished", type=float, help="finished cases per open case (default 0.5, --quick 0)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--count-limit", type=int, help="the inbox's INBOX_COUNT_LIMIT (default: the app's, 1000)")
    parser.add_argument("--no-vacuum", action="store_true",
                        help="ANALYZE only after the load: a visibility map autovacuum has not yet set")
    parser.add_argument("--explain", action="store_true",
                        help="write EXPLAIN ANALYZE of the inbox queries to bench/results/B4-explain.txt")
    parser.add_argument("--profile", action="store_true",
                        help="pyinstrument profile of the default page at the largest size: B4-profile.txt")
    parser.add_argument("--output", help="JSON file (default bench/results/B4.json)")
    return parser.parse_args(argv)


def run(sizes, requests, finished, args) -> tuple[dict, list, str | None]:
    """Load one schema per size, then time the pages on all of them; (results by size, EXPLAIN texts, version)."""
    results, explained, sites = {}, [], []
    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        try:
            for size in sizes:
                config = {"INBOX_COUNT_LIMIT": args.count_limit} if args.count_limit else {}
                sites.append(Site(size, finished, args.seed, Path(tmp), config, not args.no_vacuum))
                counts = sites[-1].counts
                print(f"  {size} open cases loaded in {sites[-1].load_s:.1f} s: {counts[0]} work items, {counts[1]} "
                      f"ready, {counts[2]} in the official's inbox")
            timed = measure(sites, requests)
            for site in sites:
                results[site.size] = {"work_items": site.counts[0], "ready": site.counts[1],
                                      "visible": site.counts[2], "load_s": site.load_s, "pages": timed[site.size]}
                if args.explain:
                    explain(site.app, site.client, site.statements, explained)
            if args.profile:
                _profile(sites[-1].client, requests)
        finally:
            for site in sites:
                site.close()
    return results, explained, sites[0].pg_version if sites else None


def _counts(app):
    """All work items, the ready ones, and those the official's inbox holds (exactly, without the cap)."""
    with app.engine.connect() as conn:
        return conn.execute(text(
            "SELECT (SELECT count(*) FROM work_items), (SELECT count(*) FROM work_items WHERE state = 'ready'), "
            "(SELECT count(*) FROM work_items w JOIN instances i ON i.id = w.instance_id WHERE w.state = 'ready' "
            "AND i.status = 'running' AND (w.claimed_by IS NULL OR w.claimed_by = :user) "
            "AND (w.role, w.office) IN ((:r1, :o1), (:r2, :o2)))"),
            {"user": USER, "r1": GRANTS[0][0], "o1": GRANTS[0][1], "r2": GRANTS[1][0], "o2": GRANTS[1][1]}).one()


def _profile(client, requests) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(requests):
        client.get(PAGES["default"])
    profiler.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "B4-profile.txt").write_text(profiler.output_text(unicode=True, color=False))
    print(f"  profile: {RESULTS / 'B4-profile.txt'}")


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    requests = args.requests or (30 if args.quick else 200)
    finished = args.finished if args.finished is not None else (0.0 if args.quick else 0.5)
    print(f"B4: GET /tugas as {USER} ({', '.join(f'{r} @ {o}' for r, o in GRANTS)}) with {sizes} open cases "
          f"(+{finished:g} finished per open case), {requests} timed requests per page; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results, explained, pg_version = run(sizes, requests, finished, args)
    if explained:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "B4-explain.txt").write_text("\n".join(explained))
        print(f"  plans: {RESULTS / 'B4-explain.txt'}")
    rows = [[f"{size:>6} {name}", p["median_ms"], p["p95_ms"], p["max_ms"], p["statements"], p["shown_total"],
             p["rows"]] for size, r in results.items() for name, p in r["pages"].items()]
    print_table(["open cases, page", "median ms", "p95 ms", "max ms", "SQL", "total shown", "rows"], rows)
    smallest, largest = results[sizes[0]]["pages"], results[sizes[-1]]["pages"]
    verdicts = {}
    for name in PAGES:
        p95, ratio = largest[name]["p95_ms"], largest[name]["p95_ms"] / smallest[name]["p95_ms"]
        verdicts[name] = {"p95_ms": p95, "ratio": ratio, "met": p95 <= 30 and ratio <= 1.5}
        print(f"goal p95 <= 30 ms at {sizes[-1]} and p95 {sizes[-1]}/{sizes[0]} <= 1.5 ({name}): "
              f"{'met' if verdicts[name]['met'] else 'NOT met'} (p95 {p95:.1f} ms, ratio {ratio:.2f})")
    write_result("B4", {
        "parameters": {"sizes": sizes, "requests": requests, "finished_per_open": finished, "user": USER,
                       "grants": GRANTS, "pages": PAGES, "seed": args.seed,
                       "count_limit": args.count_limit or "default", "vacuum": not args.no_vacuum},
        "results": results, "goal": {"p95_ms": 30, "ratio": 1.5}, "goal_met": verdicts,
        "machine": machine(pg_version), "load_average": os.getloadavg(),
    }, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
