"""The web load of B3 and B7: the seeded site, `alur serve` as a child process, and simulated officials.

The site: office B, a 16-step SOP whose steps cycle through four lanes (Klien, Duta, Pemeriksa, Kepala), each step
with a non-interrupting PT3H SLA timer; 16 officials, four per lane, each holding one lane's role. An official
(`Official`) is a browser with a keep-alive connection (http.client) and the session cookie; it logs in through the
form, and each `step()` opens the inbox, picks its first step there, opens the task page and posts its form.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import common  # noqa: F401 - puts the repository on sys.path

from adapters import bootstrap
from adapters.sql import Office
from engine import services
from engine.passwords import hash_password

ALUR = Path(sys.executable).with_name("alur")
KEY = "bench_web"
OFFICE = "B"
LANES = ("Klien", "Duta", "Pemeriksa", "Kepala")
PASSWORD = "rahasia-bench-123"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
ROW_CASE = re.compile(r'data-item="([^"]+)".*?href="/kasus/(\d+)"', re.S)  # a row's work item and case id


# --- the site ---------------------------------------------------------------------------------------------------------

def chain_diagram(steps: int, lanes=LANES) -> bytes:
    """`steps` user tasks in a row, cycling through `lanes`, each with a non-interrupting PT3H boundary timer."""
    refs = {lane: [] for lane in lanes}
    body, previous = ['<bpmn:startEvent id="start"/>'], "start"
    refs[lanes[0]].append("start")
    for i in range(1, steps + 1):
        lane, task = lanes[(i - 1) % len(lanes)], f"Step_{i:02d}"
        refs[lane] += [task, f"Sla_{i:02d}", f"Late_{i:02d}"]
        body += [f'<bpmn:sequenceFlow id="F_{i:02d}" sourceRef="{previous}" targetRef="{task}"/>',
                 f'<bpmn:userTask id="{task}" name="{i}. Langkah {i}"/>',
                 f'<bpmn:boundaryEvent id="Sla_{i:02d}" cancelActivity="false" attachedToRef="{task}">'
                 '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT3H'
                 '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>',
                 f'<bpmn:sequenceFlow id="FL_{i:02d}" sourceRef="Sla_{i:02d}" targetRef="Late_{i:02d}"/>',
                 f'<bpmn:endEvent id="Late_{i:02d}"/>']
        previous = task
    refs[lanes[(steps - 1) % len(lanes)]].append("end")
    body += [f'<bpmn:sequenceFlow id="F_end" sourceRef="{previous}" targetRef="end"/>', '<bpmn:endEvent id="end"/>']
    lane_xml = "".join(f'<bpmn:lane id="Lane_{n}" name="{n}">'
                       + "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in r_) + "</bpmn:lane>"
                       for n, r_ in refs.items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="http://alur.local/b">'
            f'<bpmn:process id="{KEY}" name="Benchmark web" isExecutable="true"><bpmn:laneSet>{lane_xml}'
            "</bpmn:laneSet>" + "".join(body) + "</bpmn:process></bpmn:definitions>").encode()


def mine(page: str, rank: int, holders: int) -> list[str]:
    """The work items of an inbox page that are this official's: the cases whose id is `rank` modulo the number of
    holders. A case keeps its rank from lane to lane, so each rank's four officials pass its cases along."""
    return [item for item, case in ROW_CASE.findall(page) if int(case) % holders == rank]


def officials(count: int = 16) -> list[tuple[str, str, int, int]]:
    """(username, role, rank among the role's holders, number of holders) of each simulated official."""
    per_lane = count // len(LANES)
    return [(f"p{i:02d}", LANES[i % len(LANES)], i // len(LANES), per_lane) for i in range(per_lane * len(LANES))]


def seed(url: str, data_dir: Path, cases: int, steps: int = 16, count: int = 16, spread: bool = True) -> None:
    """Schema, office, officials (one real password hash for all), the SOP, and `cases` open cases: with `spread`,
    a quarter of them at each of the first four steps (one per lane), else all at the first."""
    app = bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(data_dir)})
    bootstrap.upgrade_schema(app)
    hashed = hash_password(PASSWORD)
    with app.uow() as uow:
        uow.directory.add_office(Office(OFFICE, "Kantor Bench", "Asia/Jakarta", "elapsed"))
        for username, role, _, _ in officials(count):
            uow.directory.add_user(username, hashed, username, None, services.utcnow())
            uow.directory.grant(username, role, OFFICE)
        uow.commit()
    services.deploy(app.uow(), [("bench_web.bpmn", chain_diagram(steps))], office=OFFICE)
    people = officials(count)
    for index in range(cases):
        instance = services.start(app.uow(), KEY, actor="p00", office=OFFICE)
        for lane in range(index // 4 % len(LANES) if spread else 0):  # every lane and holder has work at once
            with app.uow(write=False) as uow:
                [item] = uow.work_items.open_for_instance(instance.id)
            services.complete(app.uow(), item.id, actor=people[lane][0])
    if app.engine.dialect.name == "postgresql":
        # Statistics for the planner, as autovacuum gathers them within a minute of a bulk insert in a database in
        # use: without them a run measures plans made for empty tables (a step's timer closed by a scan of every
        # waiting timer instead of by its id).
        with app.engine.connect() as conn:
            conn.connection.driver_connection.autocommit = True
            conn.exec_driver_sql("ANALYZE")
    app.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`alur serve` as a child process group; its gunicorn workers' pids and CPU time."""

    def __init__(self, url: str, data_dir: Path, workers: int = 2, threads: int | None = None, log: Path | None = None,
                 extra_env: dict | None = None):
        self.port = free_port()
        env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(data_dir),
               "ALUR_SECRET_KEY": "bench-secret", **(extra_env or {})}
        env.pop("ALUR_ACCESS_LOG", None)
        argv = [str(ALUR), "serve", "--port", str(self.port), "--workers", str(workers)]
        if threads:
            argv += ["--threads", str(threads)]
        self.log = open(log or os.devnull, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alur serve exited with {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/masuk")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("alur serve did not come up")

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float, float]:
    """(busy, total, stolen) CPU seconds of the whole machine so far, from /proc/stat. Stolen: the time the
    hypervisor ran something else on this virtual machine's CPUs (counted as busy: this machine could not use it)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    ticks = os.sysconf("SC_CLK_TCK")
    return (total - idle) / ticks, total / ticks, values[7] / ticks


# --- the simulated officials (run in the second process) --------------------------------------------------------------

class Official:
    """One official's browser: a keep-alive connection, the session cookie, and the timings of its requests."""

    def __init__(self, port: int, username: str, rank: int, holders: int, starts: bool = False):
        self.port, self.username, self.rank, self.holders = port, username, rank, holders
        self.starts, self.rng = starts, random.Random(username)  # the first lane's officials also start cases
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.samples: list[tuple[str, float, float, int]] = []  # (kind, start, seconds, status)
        self.statuses: Counter = Counter()

    def call(self, kind: str, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        for attempt in (1, 2):  # a keep-alive connection the server closed meanwhile is opened again, once
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                page = response.read().decode(errors="replace")
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                started = time.perf_counter()
        elapsed = time.perf_counter() - started
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            content = rest.split(";")[0]
            if content and "Max-Age=0" not in value and "01 Jan 1970" not in value:
                self.cookies[name] = content
            else:
                self.cookies.pop(name, None)
        if response.headers.get("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        self.samples.append((kind, started, elapsed, response.status))
        self.statuses[response.status] += 1
        return response.status, response.headers.get("Location", ""), page

    def login(self) -> None:
        _, _, page = self.call("login_form", "GET", "/masuk")
        status, _, _ = self.call("login", "POST", "/masuk", {"username": self.username, "password": PASSWORD,
                                                              "csrf_token": CSRF.search(page).group(1)})
        if status != 302:
            raise RuntimeError(f"{self.username} could not log in ({status})")

    def mine(self, page: str) -> list[str]:
        return mine(page, self.rank, self.holders)

    def step(self, follow: bool = False, case_page: bool = False) -> str:
        """One round: inbox, a task page, complete it (and the case page when `case_page`); what happened."""
        _, _, page = self.call("inbox", "GET", "/tugas")
        mine = self.mine(page)
        if not mine:
            return "idle"
        item = mine[0]
        status, _, page = self.call("task", "GET", f"/tugas/{item}")
        match = CSRF.search(page)
        if status != 200 or not match:
            return f"task_{status}"
        status, where, _ = self.call("complete", "POST", f"/tugas/{item}", {"csrf_token": match.group(1)})
        if status != 302 or "/kasus/" not in where:
            return f"complete_{status}"
        if case_page:
            self.call("case", "GET", urlsplit(where).path)
        return "completed"

    def maybe_start(self) -> str | None:
        """After a completion, one time in four for the first lane's officials: a new case (the form, then POST),
        as many new cases as finish (16 steps each, a quarter of them in the first lane)."""
        if not self.starts or self.rng.random() >= 0.25:
            return None
        _, _, page = self.call("start_form", "GET", f"/layanan/{KEY}")
        status, where, _ = self.call("start", "POST", f"/layanan/{KEY}",
                                     {"office": OFFICE, "csrf_token": CSRF.search(page).group(1)})
        return "started" if status == 302 and "/kasus/" in where else f"start_{status}"
