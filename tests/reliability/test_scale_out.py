"""Scale-out: two web processes (`alur serve` on two ports, sharing nothing but the database and the secret key) and
two workers (`alur worker`) at once against one PostgreSQL, under load from officials who complete steps through
the forms, with SLA timers falling due during the run and e-mail going to a local SMTP server.

Each request of an official goes to one of the two web processes at random, as a load balancer without sticky
sessions would send it: the session and its CSRF token must hold on both. The officials collide on purpose (all of
them hold every role and pick among the same few open steps), so two processes often try to complete one step at
the same moment.

Nothing is killed here, so the guarantees are exact:
- every step whose completion a browser saw succeed (302 to the case) is stored once, completed by that official;
  no step is seen completed by two browsers; every case a browser saw started exists, and no other;
- every timer that fell due fired exactly once (audit_cases: one `timer_fired` event per fired timer row) and none
  is left waiting;
- every queued e-mail arrived exactly once (one arrival per Message-ID, the set of Message-IDs the outbox's rows).

What a broken lock would show: if two completions of one step could both commit (the case's row lock in complete
and the row_version check in Instances.save both gone), two browsers get a 302 for one step and audit_cases finds
the step "completed 2x in the audit"; if one due timer could fire twice, audit_cases reports "timer ... fired 2
times" and its SLA e-mail arrives twice; if two workers could claim one outbox row, a Message-ID arrives twice at
the SMTP server (tried: without the row lock in Outbox.claim, 245 of 879 messages arrived twice in one run; the
workers poll every 50 ms so that their claims overlap often); if the web processes did not share sessions
(different secret keys, or sessions kept in memory), requests sent to the other process would land on the login
page, which the test counts as an error.
"""

from __future__ import annotations

import os
import random
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters import tables
from engine import services
from tests.conftest import add_office, fixture_file, make_app
from tests.mailserver import MailServer, free_port
from tests.reliability.support import audit_cases, setup_users
from tests.reliability.test_crashes import _CSRF, _MESSAGE_ID, Service, SessionRecorder, request, wait_for_port
from tests.web.helpers import PASSWORD

pytestmark = pytest.mark.slow

ALUR = Path(sys.executable).with_name("alur")
PLAYERS = ("u0", "u1", "u2", "u3", "u1", "u2")  # six browsers; u1 and u2 twice, as on two computers
MAILED = ("u1", "u2")
# SLA timers of 1 s on both steps; 5 s on a parallel branch; 1 s on a second step nobody among the officials may do,
# so that timers fall due during the run however fast the officials are (their own steps seldom wait 1 s).
KEYS = ("sla_chain", "parallel_review", "sla_unheld")
SECONDS = 20
MAX_OPEN = 40
_ROW = re.compile(r'data-item="([^"]+)"')
_SLA = ('<bpmn:boundaryEvent id="T{0}" cancelActivity="false" attachedToRef="{0}"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>'
        '</bpmn:boundaryEvent><bpmn:sequenceFlow id="fT{0}" sourceRef="T{0}" targetRef="L{0}"/>'
        '<bpmn:endEvent id="L{0}"/>')
SLA_CHAIN = ("""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="x">
  <bpmn:process id="sla_chain" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="L1" name="Klien"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>A</bpmn:flowNodeRef><bpmn:flowNodeRef>TA</bpmn:flowNodeRef><bpmn:flowNodeRef>LA</bpmn:flowNodeRef>
    </bpmn:lane><bpmn:lane id="L2" name="Duta"><bpmn:flowNodeRef>B</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>TB</bpmn:flowNodeRef><bpmn:flowNodeRef>LB</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="A"/>
    <bpmn:userTask id="A" name="1. A"/>""" + _SLA.format("A") + """
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="B"/><bpmn:userTask id="B" name="2. B"/>""" + _SLA.format("B")
             + """
    <bpmn:sequenceFlow id="f3" sourceRef="B" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
""").encode()

SLA_UNHELD = (SLA_CHAIN.decode().replace('id="sla_chain"', 'id="sla_unheld"').replace('name="Duta"', 'name="Pengawas"')
              .replace('<bpmn:flowNodeRef>TA</bpmn:flowNodeRef><bpmn:flowNodeRef>LA</bpmn:flowNodeRef>', '')
              .replace(_SLA.format("A"), "")).encode()
UNHELD_LANE = "Pengawas"  # a role none of the officials holds: its steps wait in no inbox until their timer fires


@dataclass
class Tally:
    """What the browsers saw, shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    completed: list = field(default_factory=list)  # (work item, username) of each completion seen to succeed
    started: list = field(default_factory=list)  # case ids seen started
    outcomes: Counter = field(default_factory=Counter)
    by_port: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)


class Browser:
    """One official's browser behind a load balancer: each request goes to either web process."""

    def __init__(self, ports, username, tally: Tally, seed: int):
        self.ports, self.username, self.tally = ports, username, tally
        self.rng = random.Random(seed)
        self.cookies: dict[str, str] = {}
        self.token = None

    def call(self, method, path, form=None):
        port = self.rng.choice(self.ports)
        status, headers, page = request(port, method, path, self.cookies, form)
        with self.tally.lock:
            self.tally.by_port[(port, status)] += 1
        if status >= 500 or (status == 302 and "/masuk" in headers.get("Location", "")):
            with self.tally.lock:
                self.tally.errors.append(f"{method} {path} on {port} as {self.username}: {status}")
        return status, headers.get("Location", ""), page

    def login(self) -> None:
        _, _, page = self.call("GET", "/masuk")
        status, _, _ = self.call("POST", "/masuk", {"username": self.username, "password": PASSWORD,
                                                    "csrf_token": _CSRF.search(page).group(1)})
        assert status == 302, f"{self.username} could not log in"
        _, _, page = self.call("GET", "/layanan")
        self.token = _CSRF.search(page).group(1)  # the session's token, good on both processes

    def round(self) -> None:
        _, _, page = self.call("GET", "/tugas")
        items = _ROW.findall(page)
        if len(items) < MAX_OPEN and (not items or self.rng.random() < 0.3):
            key = self.rng.choice(KEYS)
            status, where, _ = self.call("POST", f"/layanan/{key}", {"office": "T", "csrf_token": self.token})
            kind = "start"
            if status == 302 and "/kasus/" in where:
                with self.tally.lock:
                    self.tally.started.append(int(where.rstrip("/").rsplit("/", 1)[1]))
        else:
            # Often the same few steps as everybody else (collisions); else any step of the page, so that some
            # steps wait past their SLA timer.
            item = self.rng.choice(items[:4] if self.rng.random() < 0.4 else items)
            status, where, _ = self.call("POST", f"/tugas/{item}", {"csrf_token": self.token})
            kind = "complete"
            if status == 302 and "/kasus/" in where:
                with self.tally.lock:
                    self.tally.completed.append((item, self.username))
        with self.tally.lock:
            self.tally.outcomes[f"{kind}:{status}"] += 1


def drive(ports, tally: Tally, seconds: float) -> None:
    browsers = [Browser(ports, name, tally, seed) for seed, name in enumerate(PLAYERS)]
    for browser in browsers:
        browser.login()
    deadline = time.monotonic() + seconds

    def run(browser):
        try:
            while time.monotonic() < deadline:
                browser.round()
        except Exception as err:  # noqa: BLE001 - reported by the test
            with tally.lock:
                tally.errors.append(f"{browser.username}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=run, args=(b,), daemon=True) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)


@pytest.fixture
def site(postgres_schema_factory, tmp_path):
    url = postgres_schema_factory()
    alur = make_app(url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    setup_users(alur, emails=MAILED)
    services.deploy(alur.uow(), [("sla_chain.bpmn", SLA_CHAIN), ("sla_unheld.bpmn", SLA_UNHELD),
                                 fixture_file("parallel_review.bpmn")], office="T")
    mailserver = MailServer()
    mailserver.handler = SessionRecorder()
    mailserver.start()
    # What the processes share: the database URL and the secret key. Each has its own data folder here, to show
    # that nothing else is shared (attachments, which these SOPs do not have, would need shared storage).
    env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_SECRET_KEY": "scale-out-secret", **mailserver.env(),
           "ALUR_SMTP_TIMEOUT": "5"}
    env.pop("ALUR_ACCESS_LOG", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    ports = [free_port(), free_port()]
    services_ = [Service(f"web{i}", [str(ALUR), "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
                         {**env, "ALUR_DATA_DIR": str(tmp_path / f"data-web{i}")}, logs)
                 for i, port in enumerate(ports)]
    # Workers polling every 50 ms: their claims often overlap, so a missing lock shows within the run.
    services_ += [Service(f"worker{i}", [str(ALUR), "worker", "--interval", "0.05"],
                          {**env, "ALUR_DATA_DIR": str(tmp_path / f"data-worker{i}")}, logs) for i in range(2)]
    try:
        yield alur, ports, services_, mailserver
    finally:
        for service in services_:
            service.stop()
        mailserver.stop()
        alur.engine.dispose()


def settle(alur, timeout: float) -> float:
    """Until no timer waits (each fell due and fired, or was cancelled) and no e-mail is queued; how long it took."""
    began = time.monotonic()
    while True:
        with alur.uow(write=False) as uow:
            waiting = uow.conn.execute(select(func.count()).select_from(tables.timers).where(
                tables.timers.c.state == "waiting")).scalar_one()
            queued = uow.conn.execute(select(func.count()).select_from(tables.outbox).where(
                tables.outbox.c.state != "sent")).scalar_one()
        if not waiting and not queued:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise AssertionError(f"after {timeout} s still {waiting} waiting timer(s), {queued} unsent e-mail(s)")
        time.sleep(0.2)


def doubled(pairs) -> list:
    """The work items more than one browser saw completed (each must be seen at most once)."""
    return sorted(item for item, count in Counter(item for item, _ in pairs).items() if count > 1)


def mail_problems(rows, arrivals) -> list[str]:
    """Exactly once: one arrival per queued row's Message-ID, and nothing else."""
    copies = Counter(message_id for _, message_id in arrivals)
    problems = [f"{message_id} arrived {n} times" for message_id, n in copies.items() if n != 1]
    arrived = {int(_MESSAGE_ID.match(message_id).group(1)) for message_id in copies}
    if missing := sorted({row.id for row in rows} - arrived):
        problems.append(f"queued but never arrived: {missing}")
    if extra := sorted(arrived - {row.id for row in rows}):
        problems.append(f"arrived but never queued: {extra}")
    return problems


def test_the_checks_catch_a_step_completed_twice_and_an_e_mail_sent_twice():
    assert doubled([("a", "u1"), ("b", "u2"), ("a", "u3")]) == ["a"]

    class Row:
        def __init__(self, id_):
            self.id = id_

    arrivals = [(1, "<alur.1.ab@x>"), (2, "<alur.2.cd@x>"), (3, "<alur.1.ab@x>")]
    assert mail_problems([Row(1), Row(2), Row(3)], arrivals) == ["<alur.1.ab@x> arrived 2 times",
                                                                  "queued but never arrived: [3]"]


def test_two_web_processes_and_two_workers_lose_and_double_nothing(site):
    alur, ports, processes, mailserver = site
    began = time.monotonic()
    for process in processes:
        process.start()
    for port, web in zip(ports, processes[:2], strict=True):
        wait_for_port(port, web)
    tally = Tally()
    drive(ports, tally, SECONDS)
    for web in processes[:2]:
        web.stop()  # no new steps or cases: the timers still waiting are the last ones
    settled = settle(alur, timeout=25)
    workers_alive = [w.proc.poll() is None for w in processes[2:]]
    for worker in processes[2:]:
        worker.stop()
    print(f"\nscale-out: {SECONDS} s of load, settled {settled:.1f} s later ({time.monotonic() - began:.0f} s in "
          f"all); outcomes {dict(sorted(tally.outcomes.items()))}; per (port, status) {dict(tally.by_port)}")

    assert tally.errors == []
    assert workers_alive == [True, True]
    assert [p.tracebacks() for p in processes] == [[], [], [], []]
    for port in ports:  # both web processes did real work
        assert tally.by_port[(port, 302)] >= 10, tally.by_port

    # Steps and cases: each completion a browser saw is stored once, by that official; none seen twice.
    assert doubled(tally.completed) == []
    assert len(tally.completed) >= 50 and tally.outcomes["complete:409"] > 0  # enough load, and collisions
    problems, figures = audit_cases(alur)
    assert problems == []
    print(f"audit: {dict(sorted(figures.items()))}")
    with alur.uow(write=False) as uow:
        cases = {i.id for i in uow.instances.list()}
        items = [item for i in cases for item in uow.work_items.for_instance(i)]
        done = {item.id: item.completed_by for item in items if item.state == "completed"}
        unheld = [item for item in items if item.lane == UNHELD_LANE]
    assert cases == set(tally.started) and len(tally.started) == len(set(tally.started))
    assert {item: done.get(item) for item, _ in tally.completed} == dict(tally.completed)
    assert figures["items_completed"] == len(tally.completed)  # nothing completed that no browser saw succeed

    # Timers: many fell due during the run; each fired once (audit_cases), none is left waiting (settle). At least
    # the timer of every step nobody could do fired (those steps are still open).
    assert len(unheld) >= 10 and {item.state for item in unheld} == {"ready"}
    assert figures["timers_fired"] >= len(unheld) and figures["timers_waiting"] == 0

    # E-mail: every queued message arrived exactly once.
    with alur.uow(write=False) as uow:
        rows = uow.outbox.list()
    assert rows and {row.state for row in rows} == {"sent"}
    assert mail_problems(rows, mailserver.handler.arrivals) == []
    print(f"mail: {len(rows)} queued, {len(mailserver.handler.arrivals)} delivered; per worker "
          f"{[worker_share(w) for w in processes[2:]]}")


def worker_share(worker) -> dict:
    """Timers fired and e-mails sent by one worker, from its log (how the two shared the work)."""
    text = "".join(path.read_text(errors="replace") for path in worker.logs.glob(f"{worker.name}-*.log"))
    return {what: sum(int(n) for n in re.findall(rf"^{verb} (\d+) ", text, re.M))
            for what, verb in (("timers", "fired"), ("mails", "sent"))}
