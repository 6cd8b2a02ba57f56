"""Crashes: the web server (`alur serve`) and the worker (`alur worker`, sending to a local SMTP server) are killed
with SIGKILL at seeded random moments during 500 operations through the web forms, and restarted each time.

Afterwards every case loads, every completed step is there exactly once (audit, workflow and work items agree),
the due timers fired (once) after the restarts, and every queued e-mail went out.

The e-mail guarantee, checked here: a message is delivered once, except that a worker killed after the SMTP server
accepted a message and before its `sent` row was committed (one short UPDATE; SMTP cannot make the two atomic) sends
that one message again after its lease runs out, with the same Message-ID. So each kill of a worker can cause at
most one second copy, and only of the last message of the SMTP session the kill cut off; every other message
arrives exactly once. (The claimed messages a killed worker had not tried yet wait for their 10-minute lease; the
test lets the lease run out instead of waiting.)
"""

from __future__ import annotations

import http.client
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select, update

from adapters import tables
from engine import services
from tests.conftest import add_office, fixture_file, make_app
from tests.mailserver import MailServer, Recorder, free_port
from tests.reliability.support import audit_cases, setup_users
from tests.web.helpers import PASSWORD

pytestmark = pytest.mark.slow

ALUR = Path(sys.executable).with_name("alur")
# (operations, kills of the web server, kills of the worker) per backend: 500 on PostgreSQL, 250 more on SQLite.
PLAN = {"postgresql": (500, 6, 12), "sqlite": (250, 3, 6)}
PLAYERS = ("u1", "u2", "u3")
MAILED = ("u1", "u2")  # those with an e-mail address
KEYS = ("two_steps", "parallel_review")  # an SLA timer of 2 s on the first step; a parallel split, 5 s on a branch
MAX_OPEN_ITEMS = 24
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_MESSAGE_ID = re.compile(r"<alur\.(\d+)\.[0-9a-f]+@")


# --- processes ----------------------------------------------------------------------------------------------------

class Service:
    """A process (group) started, SIGKILLed and restarted; each run logs to its own file."""

    def __init__(self, name: str, argv: list[str], env: dict, logs: Path):
        self.name, self.argv, self.env, self.logs = name, argv, env, logs
        self.proc: subprocess.Popen | None = None
        self.runs = 0
        self.kills: list[float] = []  # time.monotonic() of each SIGKILL
        self.lock = threading.Lock()

    def start(self) -> None:
        self.runs += 1
        with open(self.logs / f"{self.name}-{self.runs}.log", "w") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def kill(self) -> None:
        with self.lock:
            self._kill()

    def kill_and_restart(self) -> None:
        with self.lock:
            self._kill()
            self.start()

    def _kill(self) -> None:
        """SIGKILL the whole group at once (gunicorn's master and its workers), as a power cut would."""
        if self.proc is not None and self.proc.poll() is None:
            self.kills.append(time.monotonic())
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def tracebacks(self) -> list[str]:
        found = []
        for path in sorted(self.logs.glob(f"{self.name}-*.log")):
            content = path.read_text(errors="replace")
            if "Traceback" in content:
                found.append(f"{path.name}: {content[-2000:]}")
        return found


def wait_for_port(port: int, web: Service, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.proc.poll() is not None:
            log = (web.logs / f"{web.name}-{web.runs}.log").read_text(errors="replace")
            raise AssertionError(f"the web server exited on its own ({web.proc.returncode}):\n{log[-3000:]}")
        try:
            status, _, _ = request(port, "GET", "/masuk", {})
            if status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    raise AssertionError(f"the web server did not come up in {timeout} s")


# --- the HTTP client ----------------------------------------------------------------------------------------------

def request(port, method, path, cookies, form=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        page = response.read().decode(errors="replace")
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            content = rest.split(";")[0]
            if content and "01 Jan 1970" not in value and "Max-Age=0" not in value:
                cookies[name] = content
            else:
                cookies.pop(name, None)
        return response.status, response.headers, page
    finally:
        conn.close()


class Interrupted(Exception):
    """The connection broke: the server was killed during the operation."""


class Player:
    """One official using the web UI: logs in through the form, sends the CSRF token with every POST."""

    def __init__(self, port: int, username: str, statuses: Counter):
        self.port, self.username, self.statuses = port, username, statuses
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None  # the session's CSRF token, read from a page; valid until logout

    def call(self, method, path, form=None):
        try:
            status, headers, page = request(self.port, method, path, self.cookies, form)
        except (OSError, http.client.HTTPException) as err:
            raise Interrupted(str(err)) from err
        self.statuses[status] += 1
        return status, headers.get("Location", ""), page

    def token(self, path: str) -> str:
        status, where, page = self.call("GET", path)
        if status == 302 and "/masuk" in where:
            self.login()
            status, where, page = self.call("GET", path)
        match = _CSRF.search(page)
        if not match:
            raise Interrupted(f"GET {path}: {status} without a form")
        return match.group(1)

    def login(self) -> bool:
        self.cookies.clear()
        self.csrf = None
        token = self.token("/masuk")
        status, _, _ = self.call("POST", "/masuk", {"username": self.username, "password": PASSWORD,
                                                    "csrf_token": token})
        if status == 302:
            self.csrf = self.token("/layanan")
        return status == 302

    def relogin(self) -> bool:
        if self.cookies:
            self.post("/layanan", "/keluar")
        return self.login()

    def post(self, page: str, path: str, form=None) -> tuple[int, str]:
        """Submit a form with the session's token; the page is fetched first when there is none yet."""
        if not self.csrf:
            self.csrf = self.token(page)
        status, where, _ = self.call("POST", path, {**(form or {}), "csrf_token": self.csrf})
        if status == 400 or "/masuk" in where:  # token or session gone: read the page again, once
            self.csrf = self.token(page)
            status, where, _ = self.call("POST", path, {**(form or {}), "csrf_token": self.csrf})
        return status, where


# --- the run ------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    outcomes: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    completed: list = field(default_factory=list)  # (work item, actor) whose completion the browser saw succeed
    started: list = field(default_factory=list)  # case ids the browser saw started
    seconds: float = 0.0


class SessionRecorder(Recorder):
    """The test SMTP server's handler, also noting which SMTP session brought each message, and which sessions
    ended properly (QUIT) rather than by the sender dying."""

    def __init__(self):
        super().__init__()
        self.arrivals: list[tuple[int, str]] = []  # (session number, Message-ID), in order of arrival
        self.quits: set[int] = set()
        self.sessions = itertools.count(1)

    def _key(self, session) -> int:
        if not hasattr(session, "alur_number"):
            session.alur_number = next(self.sessions)
        return session.alur_number

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            with self.lock:
                self.arrivals.append((self._key(session), self.messages[-1]["Message-ID"]))
        return reply

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quits.add(self._key(session))
        return "221 Bye"


@pytest.fixture(params=["postgresql", "sqlite"])
def crash_site(request, tmp_path):
    plan = PLAN[request.param]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'alur.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_factory")()
    alur = make_app(url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    setup_users(alur, emails=MAILED)
    services.deploy(alur.uow(), [fixture_file("two_steps_timer.bpmn"), fixture_file("parallel_review.bpmn")],
                    office="T")
    mailserver = MailServer()
    mailserver.handler = SessionRecorder()
    mailserver.start()
    port = free_port()
    env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(tmp_path / "data"),
           "ALUR_SECRET_KEY": "crash-test-secret", **mailserver.env(), "ALUR_SMTP_TIMEOUT": "5"}
    env.pop("ALUR_ACCESS_LOG", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    web = Service("web", [str(ALUR), "serve", "--port", str(port), "--workers", "1"], env, logs)
    worker = Service("worker", [str(ALUR), "worker", "--interval", "0.2"], env, logs)
    try:
        yield alur, port, web, worker, mailserver, plan
    finally:
        web.stop()
        worker.stop()
        mailserver.stop()
        alur.engine.dispose()


def ready_items(alur) -> list[tuple[str, str | None]]:
    c = tables.work_items.c
    with alur.uow(write=False) as uow:
        return [(r.id, r.claimed_by) for r in uow.conn.execute(select(c.id, c.claimed_by).where(c.state == "ready")
                                                               .order_by(c.ready_at, c.id))]


def operate(rng, alur, players, run) -> str:
    """One seeded random operation through the web forms; returns its kind."""
    items = ready_items(alur)
    weights = {"start": 0 if len(items) >= MAX_OPEN_ITEMS else 3, "claim": 2 if items else 0,
               "complete": 6 if items else 0, "login": 1}
    kind = rng.choices(list(weights), list(weights.values()))[0]
    player = players[rng.choice(PLAYERS)]
    if kind == "login":
        run.outcomes[f"login:{player.relogin()}"] += 1
        return kind
    if not player.cookies:
        player.login()
    if kind == "start":
        key = rng.choice(KEYS)
        status, where = player.post(f"/layanan/{key}", f"/layanan/{key}", {"office": "T"})
        if status == 302 and "/kasus/" in where:
            run.started.append(int(where.rstrip("/").rsplit("/", 1)[1]))
        run.outcomes[f"start:{status}"] += 1
        return kind
    item_id, claimed_by = rng.choice(items[:8])
    if kind == "complete" and claimed_by:
        player = players.get(claimed_by, player)
        if not player.cookies:
            player.login()
    if kind == "claim":
        status, _ = player.post(f"/tugas/{item_id}", f"/tugas/{item_id}/ambil")
    else:
        status, where = player.post(f"/tugas/{item_id}", f"/tugas/{item_id}")
        if status == 302 and "/kasus/" in where:
            run.completed.append((item_id, player.username))
    run.outcomes[f"{kind}:{status}"] += 1
    return kind


def drive(alur, port, web, worker, plan, seed: int) -> Run:
    operations, web_kill_count, worker_kill_count = plan
    rng = random.Random(seed)
    run = Run()
    began = time.monotonic()
    players = {name: Player(port, name, run.statuses) for name in PLAYERS}
    web_kills = set(rng.sample(range(10, operations - 10), web_kill_count))
    worker_kills = set(rng.sample(range(5, operations - 5), worker_kill_count))
    pending = []
    for index in range(operations):
        killers = []
        if index in web_kills:
            killers.append(threading.Timer(rng.uniform(0.0, 0.05), web.kill))
        if index in worker_kills:
            killers.append(threading.Timer(rng.uniform(0.0, 0.3), worker.kill_and_restart))
        for killer in killers:
            killer.start()
        pending += killers
        try:
            operate(rng, alur, players, run)
        except Interrupted:
            run.outcomes["interrupted"] += 1
        if index in web_kills:
            killers[0].join()
            web.start()
            wait_for_port(port, web)
    for killer in pending:  # a kill scheduled by one of the last operations has happened before the checks
        killer.join()
    run.seconds = time.monotonic() - began
    return run


def wait_until_settled(alur, timeout: float) -> float:
    """Until every timer fired (or was cancelled) and no e-mail waits; returns how long it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with alur.uow(write=False) as uow:
            due = uow.conn.execute(select(func.count()).select_from(tables.timers).where(
                tables.timers.c.state == "waiting")).scalar_one()
            queued = uow.conn.execute(select(func.count()).select_from(tables.outbox).where(
                tables.outbox.c.state.in_(("pending", "sending")))).scalar_one()
        if not due and not queued:
            return time.monotonic() - began
        time.sleep(0.2)
    raise AssertionError(f"after {timeout} s still {due} waiting timer(s) and {queued} queued e-mail(s)")


def test_killing_the_web_server_and_the_worker_during_500_operations_loses_and_doubles_nothing(crash_site):
    alur, port, web, worker, mailserver, plan = crash_site
    operations, web_kill_count, worker_kill_count = plan
    web.start()
    worker.start()
    wait_for_port(port, web)
    run = drive(alur, port, web, worker, plan, seed=7)
    web.stop()  # no new cases or steps: the timers still waiting are the last ones

    # The last crash: the worker dies once more; its claimed e-mails wait for their lease, which we let run out
    # instead of waiting 10 minutes. The worker started now must fire every due timer and send every e-mail.
    worker.kill()
    with alur.uow() as uow:
        uow.conn.execute(update(tables.outbox).where(tables.outbox.c.state == "sending")
                         .values(next_attempt_at=services.utcnow() - timedelta(seconds=1)))
        uow.commit()
    restarted_at = services.utcnow()
    late = [services.start(alur.uow(), "two_steps", actor="u1", clock=lambda: restarted_at - timedelta(minutes=1))
            for _ in range(3)]  # their timers fell due while no worker ran
    worker.start()
    settled = wait_until_settled(alur, timeout=40)
    worker.stop()

    print(f"\ncrashes: {operations} operations in {run.seconds:.0f} s, web killed {len(web.kills)}x, worker killed "
          f"{len(worker.kills)}x, settled {settled:.1f} s after the last restart; "
          f"outcomes {dict(sorted(run.outcomes.items()))}; HTTP {dict(sorted(run.statuses.items()))}")
    assert len(web.kills) == web_kill_count and len(worker.kills) == worker_kill_count + 1
    assert web.tracebacks() == [] and worker.tracebacks() == []
    assert not [status for status in run.statuses if status >= 500], run.statuses

    # Every case loads; every completed step is there exactly once; every fired timer fired once.
    problems, figures = audit_cases(alur)
    assert problems == []
    print(f"audit: {dict(sorted(figures.items()))}")
    assert figures["cases"] >= len(run.started) > operations // 25
    with alur.uow(write=False) as uow:
        cases = {i.id for i in uow.instances.list()}
        done = {item.id: item.completed_by for i in cases for item in uow.work_items.for_instance(i)
                if item.state == "completed"}
        fired_after = uow.conn.execute(select(func.count()).select_from(tables.audit_events).where(
            tables.audit_events.c.type == "timer_fired", tables.audit_events.c.at >= restarted_at)).scalar_one()
    assert set(run.started) <= cases
    assert all(done.get(item) == actor for item, actor in run.completed), "a completion the browser saw is lost"
    assert len(run.completed) > operations // 5 and figures["items_completed"] >= len(run.completed)
    assert fired_after >= len(late)  # due timers fire after the restart (and every due one fired: settled)

    check_mail(alur, mailserver, worker.kills)


def check_mail(alur, mailserver, kills) -> None:
    with alur.uow(write=False) as uow:
        rows = uow.outbox.list()
    assert rows and {m.state for m in rows} == {"sent"}, Counter(m.state for m in rows)
    arrivals = mailserver.handler.arrivals
    copies = Counter(message_id for _, message_id in arrivals)
    by_row = {}
    for message_id in copies:
        match = _MESSAGE_ID.match(message_id)
        assert match, message_id
        assert by_row.setdefault(int(match.group(1)), message_id) == message_id, "one message, two Message-IDs"
    assert set(by_row) == {m.id for m in rows}, "every queued e-mail arrived, and nothing else"
    for message in mailserver.messages:  # each arrived copy is the queued message itself
        row = next(m for m in rows if m.id == int(_MESSAGE_ID.match(message["Message-ID"]).group(1)))
        assert (message["To"], message["Subject"].strip()) == (row.address, row.subject)  # a long one is folded
    problems, doubled = unexplained_copies(arrivals, mailserver.handler.quits, len(kills))
    assert problems == []
    print(f"mail: {len(rows)} queued, {len(arrivals)} delivered, {doubled} second copies "
          f"(each the last message of a session cut by a kill)")


def unexplained_copies(arrivals, quits, kills: int) -> tuple[list[str], int]:
    """Second copies the guarantee does not allow, and how many copies there were in all.

    A second copy is allowed only of the last message of an SMTP session that ended without QUIT (its sender was
    killed after the server accepted the message, before it recorded the send), at most one per killed worker.
    """
    copies = Counter(message_id for _, message_id in arrivals)
    last_of = {}
    for session, message_id in arrivals:
        last_of[session] = message_id
    problems, doubled = [], [message_id for message_id, count in copies.items() if count > 1]
    for message_id in doubled:
        sessions = [session for session, mid in arrivals if mid == message_id]
        if len(sessions) != 2:
            problems.append(f"{message_id} arrived {len(sessions)} times")
        elif sessions[0] in quits or last_of[sessions[0]] != message_id:
            problems.append(f"{message_id} arrived twice, the first time not as the last message of a cut session")
    if len(doubled) > kills:
        problems.append(f"{len(doubled)} messages arrived twice, but the worker was killed {kills} times")
    return problems, len(doubled)


def test_the_mail_check_allows_a_second_copy_only_of_the_last_message_of_a_cut_session():
    # Session 1 ended with QUIT, session 2 was cut after <c>; session 3 sent again what was left.
    arrivals = [(1, "<a>"), (1, "<b>"), (2, "<c>"), (3, "<c>"), (3, "<d>")]
    assert unexplained_copies(arrivals, quits={1, 3}, kills=1) == ([], 1)
    assert unexplained_copies([*arrivals, (3, "<b>")], quits={1, 3}, kills=1) == ([
        "<b> arrived twice, the first time not as the last message of a cut session",
        "2 messages arrived twice, but the worker was killed 1 times"], 2)
    cut_early = [(2, "<c>"), (2, "<e>"), (3, "<c>")]  # <c> was recorded: the worker went on to <e> before dying
    assert unexplained_copies(cut_early, quits={3}, kills=1)[0] == [
        "<c> arrived twice, the first time not as the last message of a cut session"]
    assert unexplained_copies([(2, "<c>"), (3, "<c>"), (4, "<c>")], quits=set(), kills=2)[0] == ["<c> arrived 3 times"]


POISON = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="x">
  <bpmn:process id="poison" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="L1" name="Klien"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>A</bpmn:flowNodeRef><bpmn:flowNodeRef>T</bpmn:flowNodeRef><bpmn:flowNodeRef>G</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>E2</bpmn:flowNodeRef><bpmn:flowNodeRef>E3</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="A"/>
    <bpmn:userTask id="A" name="1. A"/>
    <bpmn:boundaryEvent id="T" cancelActivity="false" attachedToRef="A"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="T" targetRef="G"/>
    <bpmn:exclusiveGateway id="G"/>
    <bpmn:sequenceFlow id="g1" sourceRef="G" targetRef="E2">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">1 / 0 == 1</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="g2" sourceRef="G" targetRef="E3">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">1 / 0 == 2</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="E2"/>
    <bpmn:endEvent id="E3"/>
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_timer_that_cannot_fire_stops_neither_the_worker_nor_the_other_timers(tmp_path):
    """A due timer whose path fails (here a condition dividing by zero) used to stop every sweep at itself: the
    worker exited, and no timer behind it in the queue ever fired."""
    url = f"sqlite:///{tmp_path / 'alur.db'}"
    alur = make_app(url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    setup_users(alur)
    services.deploy(alur.uow(), [("poison.bpmn", POISON), fixture_file("two_steps_timer.bpmn")], office="T")
    past = services.utcnow() - timedelta(minutes=5)
    poisoned = services.start(alur.uow(), "poison", actor="u1", clock=lambda: past - timedelta(minutes=1))
    healthy = services.start(alur.uow(), "two_steps", actor="u1", clock=lambda: past)  # due after the poisoned one
    env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALUR_SMTP_HOST", None)
    done = subprocess.run([str(ALUR), "worker", "--once"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "fired 1 timer(s)" in done.stdout
    assert f"A timer of case {poisoned.id} could not fire" in done.stderr and "division by zero" in done.stderr
    assert "Traceback" not in done.stderr
    with alur.uow(write=False) as uow:
        states = {t.instance_id: t.state for t in uow.timers.due(services.utcnow(), 10)}
        assert states == {poisoned.id: "waiting"}  # still waiting, tried again next round; the other one fired
        assert [e.type for e in uow.audit.for_instance(healthy.id)].count("timer_fired") == 1
    alur.engine.dispose()
