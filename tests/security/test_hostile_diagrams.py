"""Hostile diagrams through every interface: the engine (lint, deploy), the command line (`alur lint`,
`alur deploy`), the web deploy page (/kelola/unggah) and the modeler (/rancangan: save, check, deploy).

- XML attacks (external entities reading /etc/passwd or a canary file, an external DTD and parameter entities
  fetched from a local server that counts requests, billion laughs), a 50 MB file, non-XML, binary bytes and an
  empty file: refused with a clear message, nothing read, fetched or expanded, no 500.
- Code in every place a diagram can carry it (gateway conditions, timers, script tasks, pre/post scripts,
  listeners, message payloads and correlation expressions, multi-instance expressions, conditional events,
  service task expressions), with payloads that call os, subprocess, open, eval and attribute dunders to create
  a canary file: refused at the element and line that carry it, and never run, not even when lint is bypassed.
- `<script>` and `"><img onerror>` in process, lane, step, gateway, flow and field names, documentation and
  properties: deployed, and shown as text (HTML-escaped) on every page that shows them.

After every refusal nothing is stored half-way: no deployments, lane_roles or drafts rows, no staged upload.
"""

from __future__ import annotations

import html
import io
import json
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from markupsafe import escape as html_escape
from SpiffWorkflow.bpmn.parser import BpmnParser
from sqlalchemy import func, select

from adapters import cli, tables
from engine import runtime, services
from engine.errors import DiagramInvalid
from tests.conftest import ROOT
from tests.web.helpers import text, unique

HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
ALUR = Path(sys.executable).with_name("alur")
KEY = "kode"
STORED = ("deployments", "lane_roles", "drafts", "instances", "work_items", "timers")

# --- code in a diagram ------------------------------------------------------------------------------------------------

# Each payload creates the canary file {canary} if it ever runs.
PAYLOADS = {
    "os.system": "__import__('os').system('touch {canary}')",
    "subprocess": "__import__('subprocess').run(['touch', '{canary}'])",
    "open": "open('{canary}', 'w').write('pwned')",
    "eval": "eval(\"__import__('os').system('touch {canary}')\")",
    "dunder": "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', '{canary}'])",
    "getattr": "getattr(__builtins__, '__import__')('os').system('touch {canary}')",
}

# A diagram around one slot: {head} goes into <definitions>, {body} into the process after the start event; the
# user task A is in {body} too. {code} is the payload (XML-escaped); each <!--N--> marks the line of an expected
# problem, listed with its element and words in `expect`.
TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
{head}
  <bpmn:process id="kode" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="L1" name="Klien"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>\
<bpmn:flowNodeRef>A</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="A"/>
{body}
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
"""
PLAIN_A = '    <bpmn:userTask id="A" name="1. A"/>'
TO_END = '    <bpmn:sequenceFlow id="f9" sourceRef="A" targetRef="e"/>'
MESSAGE_EVENT = """    <bpmn:userTask id="A" name="1. A"/>
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="Send"/>
    <bpmn:intermediateThrowEvent id="Send" name="Kirim"><bpmn:messageEventDefinition messageRef="Msg"/>\
</bpmn:intermediateThrowEvent><!--2-->
    <bpmn:sequenceFlow id="f3" sourceRef="Send" targetRef="e"/>"""


def _timer(kind: str) -> dict:
    return {"body": f"""{PLAIN_A}
    <bpmn:boundaryEvent id="T" cancelActivity="false" attachedToRef="A">
      <bpmn:timerEventDefinition><bpmn:{kind} xsi:type="bpmn:tFormalExpression">{{code}}</bpmn:{kind}>\
</bpmn:timerEventDefinition><!--1-->
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="fT" sourceRef="T" targetRef="e"/>
{TO_END}""", "expect": [("1", "T", ("timer of boundary event T",))]}


def _on_a(extension: str, expect) -> dict:
    return {"body": f"""    <bpmn:userTask id="A" name="1. A">
      <bpmn:extensionElements>
{extension}
      </bpmn:extensionElements>
    </bpmn:userTask>
{TO_END}""", "expect": expect}


SLOTS = {
    "gateway condition": {"body": f"""{PLAIN_A}
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="G"/>
    <bpmn:exclusiveGateway id="G" default="f_no"/>
    <bpmn:sequenceFlow id="f_yes" sourceRef="G" targetRef="e">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{{code}}</bpmn:conditionExpression><!--1-->
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="G" targetRef="e"/>""",
                          "expect": [("1", "f_yes", ("condition on sequence flow f_yes",))]},
    "timer duration": _timer("timeDuration"),
    "timer date": _timer("timeDate"),
    "timer cycle": _timer("timeCycle"),
    "script task": {"body": f"""{PLAIN_A}
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="S"/>
    <bpmn:scriptTask id="S" name="Hitung" scriptFormat="python"><!--1-->
      <bpmn:script>{{code}}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="S" targetRef="e"/>""",
                    "expect": [("1", "S", ("script task 'Hitung'", "never allows"))]},
    "spiff preScript": _on_a("        <spiffworkflow:preScript>{code}</spiffworkflow:preScript><!--1-->",
                             [("1", "A", ("user task '1. A'", "preScript"))]),
    "spiff postScript": _on_a("        <spiffworkflow:postScript>{code}</spiffworkflow:postScript><!--1-->",
                              [("1", "A", ("user task '1. A'", "postScript"))]),
    "camunda listener script": _on_a(
        """        <camunda:executionListener event="start"><!--1-->
          <camunda:script scriptFormat="python">{code}</camunda:script><!--2-->
        </camunda:executionListener>""",
        [("1", "A", ("executionListener",)), ("2", "A", ("carries a script",))]),
    "camunda listener expression": _on_a(
        '        <camunda:taskListener event="create" expression="${{code}}"/><!--1-->',
        [("1", "A", ("taskListener",))]),
    "message payload": {
        "head": """  <bpmn:message id="Msg" name="Surat">
    <bpmn:extensionElements>
      <spiffworkflow:messagePayload>{code}</spiffworkflow:messagePayload><!--1-->
      <spiffworkflow:messageVariable>{code}</spiffworkflow:messageVariable><!--3-->
    </bpmn:extensionElements>
  </bpmn:message>""",
        "body": MESSAGE_EVENT,
        "expect": [("1", "Msg", ("message 'Surat'", "messagePayload")),
                   ("3", "Msg", ("message 'Surat'", "messageVariable")),
                   ("2", "Send", ("message events are not supported",))]},
    "message correlation": {
        "head": """  <bpmn:message id="Msg" name="Surat"/>
  <bpmn:correlationProperty id="Corr" name="nomor">
    <bpmn:correlationPropertyRetrievalExpression messageRef="Msg"><!--1-->
      <bpmn:formalExpression>{code}</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>""",
        "body": MESSAGE_EVENT,
        "expect": [("1", "Corr", ("correlation property 'nomor'", "correlation expression")),
                   ("2", "Send", ("message events are not supported",))]},
    "multi-instance cardinality": {"body": f"""    <bpmn:userTask id="A" name="1. A">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">{{code}}</bpmn:loopCardinality><!--1-->
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
{TO_END}""", "expect": [("1", "A", ("loopCardinality of user task '1. A'",))]},
    "multi-instance completion": {"body": f"""    <bpmn:userTask id="A" name="1. A">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">2</bpmn:loopCardinality>
        <bpmn:completionCondition xsi:type="bpmn:tFormalExpression">{{code}}</bpmn:completionCondition><!--1-->
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
{TO_END}""", "expect": [("1", "A", ("completionCondition of user task '1. A'",))]},
    "conditional event": {"body": f"""{PLAIN_A}
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="C"/>
    <bpmn:intermediateCatchEvent id="C" name="Tunggu">
      <bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression">{{code}}</bpmn:condition>\
</bpmn:conditionalEventDefinition><!--1-->
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="C" targetRef="e"/>""",
                          "expect": [("1", "C", ("condition of intermediate catch event 'Tunggu'",))]},
    "service task expression": {"body": f"""{PLAIN_A}
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="Svc"/>
    <bpmn:serviceTask id="Svc" name="Kirim" camunda:expression="${{{{code}}}}"/><!--1-->
    <bpmn:sequenceFlow id="f3" sourceRef="Svc" targetRef="e"/>""",
                                "expect": [("1", "Svc", ("service task 'Kirim'", "never allows"))]},
}


@dataclass
class Armed:
    """A diagram carrying a payload aimed at `canary`, and the (line, element, words) of each expected error."""

    slot: str
    payload: str
    data: bytes
    canary: Path
    expected: list[tuple[int, str, tuple[str, ...]]]

    @property
    def filename(self) -> str:
        return f"{re.sub(r'[^a-z]+', '_', self.slot)}.bpmn"


def armed(slot: str, payload: str, folder: Path) -> Armed:
    canary = folder / f"canary-{re.sub(r'[^a-z]+', '_', slot)}-{payload.replace('.', '_')}"
    code = PAYLOADS[payload].format(canary=canary)
    spec = SLOTS[slot]
    xml_code = escape(code, {'"': "&quot;", "'": "&apos;"})
    document = TEMPLATE.format(head=spec.get("head", ""), body=spec["body"]).replace("{code}", xml_code)
    lines = document.splitlines()
    expected = []
    for marker, element, words in spec["expect"]:
        [line] = [n for n, content in enumerate(lines, 1) if f"<!--{marker}-->" in content]
        expected.append((line, element, words))
    assert xml_code in document
    return Armed(slot, payload, document.encode(), canary, expected)


def assert_reported(problems, case: Armed) -> None:
    """Exactly the expected errors, each at its line and element, each a one-line sentence naming the thing."""
    errors = [p for p in problems if p.severity == "error"]
    shown = "\n".join(map(str, problems))
    assert sorted((p.line, p.element) for p in errors) == sorted((line, el) for line, el, _ in case.expected), shown
    for line, element, words in case.expected:
        [problem] = [p for p in errors if (p.line, p.element) == (line, element)]
        assert all(w.lower() in problem.message.lower() for w in words), f"{words} not in {problem.message!r}"
        assert "\n" not in problem.message and "Traceback" not in problem.message


CODE_CASES = [(slot, payload) for slot in SLOTS for payload in PAYLOADS]
# The slower interfaces take each slot once, with the payloads in turn.
SLOT_CASES = [(slot, list(PAYLOADS)[n % len(PAYLOADS)]) for n, slot in enumerate(SLOTS)]


def row_counts(alur) -> dict[str, int]:
    with alur.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(tables.metadata.tables[name])).scalar_one()
                for name in STORED}


@pytest.fixture(scope="module")
def engine_site(tmp_path_factory):
    from tests.conftest import add_office, make_app

    folder = tmp_path_factory.mktemp("hostile-engine")
    alur = make_app(f"sqlite:///{folder / 'alur.db'}", folder)
    add_office(alur, "T", "Kantor Uji")
    yield alur
    alur.engine.dispose()


@pytest.mark.parametrize("slot, payload", CODE_CASES)
def test_code_is_refused_by_lint_and_deploy_at_its_element_and_line_and_never_runs(slot, payload, engine_site,
                                                                                     tmp_path):
    case = armed(slot, payload, tmp_path)
    report = services.lint([(case.filename, case.data)])
    assert not report.ok and not report.processes
    assert_reported(report.problems, case)
    before = row_counts(engine_site)
    with pytest.raises(DiagramInvalid) as refused:
        services.deploy(engine_site.uow(), [(case.filename, case.data)], actor=None)
    assert "nothing was deployed" in refused.value.message
    assert_reported(refused.value.problems, case)
    assert row_counts(engine_site) == before
    assert not case.canary.exists()


def _run_bypassing_lint(data: bytes) -> None:
    """Parse with SpiffWorkflow directly (no Alur lint) and run the process as far as it goes."""
    parser = BpmnParser()
    parser.add_bpmn_str(data)
    workflow = runtime.new_workflow(parser.get_spec(KEY), parser.get_subprocess_specs(KEY))
    now = services.utcnow()
    runtime.advance(workflow, now, runtime.elapsed_due_time)
    for _ in range(5):
        ready = runtime.ready_human_tasks(workflow)
        if not ready:
            break
        runtime.complete(workflow, str(ready[0].id), {}, now, runtime.elapsed_due_time)


@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_code_smuggled_past_lint_still_never_runs_in_the_engine(slot, tmp_path):
    """Defence in depth: Alur's script engine refuses what lint would have caught, whatever the payload."""
    for payload in PAYLOADS:
        case = armed(slot, payload, tmp_path)
        try:
            _run_bypassing_lint(case.data)
        except Exception as err:  # noqa: BLE001 - refusing is fine; running is not
            assert not isinstance(err, (NameError, AttributeError, OSError)), f"{slot}/{payload}: {err!r}"
        assert not case.canary.exists(), f"{slot}/{payload} ran"


# --- the command line -------------------------------------------------------------------------------------------------

def run_cli(monkeypatch, capsys, folder: Path, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("ALUR_DATABASE_URL", f"sqlite:///{folder / 'cli.db'}")
    monkeypatch.setenv("ALUR_DATA_DIR", str(folder / "data"))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALUR_DATABASE_URL", f"sqlite:///{folder / 'cli.db'}")
        patch.setenv("ALUR_DATA_DIR", str(folder / "data"))
        assert cli.main(["init"]) == 0
    return folder


def cli_deployments(folder: Path) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{folder / 'cli.db'}")
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(tables.deployments)).scalar_one()
    engine.dispose()
    return count


@pytest.mark.parametrize("slot, payload", SLOT_CASES)
def test_alur_lint_and_deploy_print_each_injection_at_its_line_and_element_and_deploy_nothing(
        slot, payload, cli_folder, monkeypatch, capsys, tmp_path):
    case = armed(slot, payload, tmp_path)
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    code, out, err = run_cli(monkeypatch, capsys, cli_folder, "lint", str(path))
    assert code == 1, out + err
    for line, element, _ in case.expected:
        assert f"{path}:{line}: [{element}] error: " in out, out
    assert f"{len(case.expected)} error(s)" in out
    code, out, err = run_cli(monkeypatch, capsys, cli_folder, "deploy", str(path), "--as", "admin", "--note", "x")
    assert code == 1 and err.startswith("alur: ") and "nothing was deployed" in err.splitlines()[0], err
    for line, element, _ in case.expected:
        assert f"{path}:{line}: [{element}] error: " in err, err
    assert "Traceback" not in out + err
    assert cli_deployments(cli_folder) == 0
    assert not case.canary.exists()


# --- the web: deploy page and modeler ---------------------------------------------------------------------------------

def upload(browser, name: str, data: bytes):
    return browser.upload("/kelola/unggah", {"files": [(io.BytesIO(data), name)]})


def problem_rows(page: str) -> list[list[str]]:
    rows = re.findall(r'<tr class="problem [a-z]+">(.*?)</tr>', page, re.DOTALL)
    cells = [re.findall(r"<td>(.*?)</td>", row, re.DOTALL) for row in rows]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in row] for row in cells]


def staged(site) -> set[str]:
    folder = Path(site.alur.data_dir) / "deploy-staging"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def post_json(browser, url, body):
    return browser.client.post(url, json=body, headers={"X-CSRFToken": browser.token or browser.fresh_token()})


def new_draft(browser, name=None) -> int:
    response = browser.post("/rancangan/baru", {"name": name or unique("Uji ")})
    assert response.status_code == 302, text(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def deployer(site):
    return site.browser(site.user(("deployer", None), prefix="penerap"))


@pytest.mark.parametrize("slot, payload", SLOT_CASES)
def test_the_deploy_page_reports_each_injection_at_its_line_and_element_and_stages_nothing(
        slot, payload, site, deployer, tmp_path):
    case = armed(slot, payload, tmp_path)
    before, staged_before = row_counts(site.alur), staged(site)
    response = upload(deployer, case.filename, case.data)
    page = text(response)
    assert response.status_code == 422, page
    rows = problem_rows(page)
    errors = sorted((int(line), element) for severity, _file, line, element, _ in rows if severity == "Error")
    assert errors == sorted((line, element) for line, element, _ in case.expected), rows
    assert 'name="token"' not in page and "/kelola/unggah/terapkan" not in page
    assert staged(site) == staged_before and row_counts(site.alur) == before
    assert not case.canary.exists()


@pytest.mark.parametrize("slot, payload", SLOT_CASES)
def test_the_modeler_checks_and_refuses_to_deploy_each_injection(slot, payload, site, deployer, tmp_path):
    case = armed(slot, payload, tmp_path)
    draft_id = new_draft(deployer)
    saved = post_json(deployer, f"/rancangan/{draft_id}/simpan", {"xml": case.data.decode(), "row_version": 1})
    assert saved.status_code == 200, saved.get_json()  # a draft may hold anything; deploying is what is refused
    before = row_counts(site.alur)
    expected = sorted((line, element) for line, element, _ in case.expected)
    for body in ({}, {"xml": case.data.decode()}):
        report = post_json(deployer, f"/rancangan/{draft_id}/periksa", body).get_json()
        assert not report["ok"]
        assert sorted((p["line"], p["element"]) for p in report["problems"] if p["severity"] == "error") == expected
    response = post_json(deployer, f"/rancangan/{draft_id}/terapkan", {"note": "coba", "row_version": 2})
    body = response.get_json()
    assert response.status_code == 400 and body["error"] == "diagram_invalid", body
    assert sorted((p["line"], p["element"]) for p in body["problems"] if p["severity"] == "error") == expected
    assert row_counts(site.alur) == before
    with site.alur.uow(write=False) as uow:
        assert uow.drafts.get(draft_id).deployed_version is None
    assert not case.canary.exists()


# --- XML attacks and files that are not diagrams ----------------------------------------------------------------------

class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server API
        self.hits.append(self.path)
        body = b'<!ENTITY % all "<!ENTITY send SYSTEM \'http://127.0.0.1/leak\'>"> %all;'
        self.send_response(200)
        self.send_header("Content-Type", "application/xml-dtd")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def dtd_server():
    """A local HTTP server that records every request: an external DTD or entity fetched would show here."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Counting.hits
    server.shutdown()
    server.server_close()


SECRET = "ALUR-CANARY-SECRET-7f3a"
BODY = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="jahat" isExecutable="true">
    <bpmn:documentation>&xxe;</bpmn:documentation>
    <bpmn:laneSet><bpmn:lane id="L1" name="Klien"><bpmn:flowNodeRef>s</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s" name="&xxe;"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _megabytes(n: int) -> bytes:
    head = (HOSTILE / "unquoted_timer.bpmn").read_bytes().split(b"</bpmn:definitions>")[0]
    return head + b"<!--" + b"x" * (n * 1024 * 1024) + b"--></bpmn:definitions>\n"


@dataclass
class Attack:
    kind: str
    data: bytes
    engine: tuple[int | None, str]  # the line and words of lint's one problem
    web: tuple[int, str]  # the deploy page's status and words of its message


def attacks(folder: Path, base_url: str) -> list[Attack]:
    secret_file = folder / "secret.txt"
    secret_file.write_text(SECRET)
    doctype = ("DOCTYPE and entity declarations are not allowed", 2)
    rng = random.Random(7)
    binary = bytes(rng.randrange(256) for _ in range(4096))
    return [
        Attack("xxe /etc/passwd", (HOSTILE / "xxe.bpmn").read_bytes(), (2, doctype[0]), (422, doctype[0])),
        Attack("xxe canary file", (f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n'
                                   + BODY).encode(), (2, doctype[0]), (422, doctype[0])),
        Attack("external DTD", (f'<?xml version="1.0"?>\n<!DOCTYPE d SYSTEM "{base_url}/evil.dtd">\n'
                                + BODY.replace("&xxe;", "x")).encode(), (2, doctype[0]), (422, doctype[0])),
        Attack("parameter entities", (f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY % remote SYSTEM '
                                      f'"{base_url}/param.dtd"> %remote; <!ENTITY xxe "x">]>\n' + BODY).encode(),
               (2, doctype[0]), (422, doctype[0])),
        Attack("billion laughs", (HOSTILE / "billion_laughs.bpmn").read_bytes(), (2, "entity"), (422, "entity")),
        Attack("50 MB", _megabytes(50), (None, "diagrams larger than 10 MB are refused"), (400, "larger than 5 MB")),
        Attack("not XML", b"%PDF-1.4\n%%EOF\n", (1, "not XML"), (400, "is not an XML file")),
        Attack("zip", (HOSTILE / "not_xml.bpmn").read_bytes(), (1, "not XML"), (400, "is not an XML file")),
        Attack("binary", b"\x00\x01" + binary, (1, "not XML"), (400, "is not an XML file")),
        Attack("binary after <", b"<" + binary, (1, "not well-formed"), (422, "not well-formed")),
        Attack("empty", b"", (None, "the file is empty"), (400, "is empty")),
        Attack("blank", b" \n\t\n", (None, "the file is empty"), (400, "is empty")),
    ]


ATTACK_KINDS = ["xxe /etc/passwd", "xxe canary file", "external DTD", "parameter entities", "billion laughs", "50 MB",
                "not XML", "zip", "binary", "binary after <", "empty", "blank"]


@pytest.fixture(scope="module")
def attack_list(tmp_path_factory, dtd_server):
    found = attacks(tmp_path_factory.mktemp("attacks"), dtd_server[0])
    assert [a.kind for a in found] == ATTACK_KINDS
    return {a.kind: a for a in found}


def assert_nothing_leaked(output: str, dtd_server) -> None:
    assert SECRET not in output and "root:x:0:0" not in output and "lollol" not in output
    assert "Traceback" not in output
    assert dtd_server[1] == [], f"something was fetched: {dtd_server[1]}"


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_engine_lint_and_deploy_refuse_the_attack_with_its_line_and_store_nothing(kind, attack_list, engine_site,
                                                                                   dtd_server):
    attack = attack_list[kind]
    started = time.perf_counter()
    report = services.lint([("jahat.bpmn", attack.data)])
    assert time.perf_counter() - started < 2
    [problem] = report.problems
    assert (problem.file, problem.line, problem.severity) == ("jahat.bpmn", attack.engine[0], "error"), problem
    assert attack.engine[1] in problem.message and "\n" not in problem.message
    before = row_counts(engine_site)
    with pytest.raises(DiagramInvalid):
        services.deploy(engine_site.uow(), [("jahat.bpmn", attack.data)])
    assert row_counts(engine_site) == before
    assert_nothing_leaked(str(report.problems), dtd_server)


@pytest.mark.parametrize("kind", ["xxe canary file", "external DTD", "parameter entities", "billion laughs"])
def test_the_parser_itself_reads_fetches_and_expands_nothing_even_past_the_doctype_check(kind, attack_list,
                                                                                          dtd_server):
    """Defence in depth: were the DOCTYPE refusal ever bypassed, lxml still resolves no entity and loads no DTD."""
    from lxml import etree

    from engine import xml

    data = attack_list[kind].data
    started = time.perf_counter()
    try:
        root = etree.fromstring(data, xml._parser())  # noqa: SLF001 - the parser parse() uses, without its checks
    except etree.XMLSyntaxError:
        root = None  # refusing an undefined entity is fine too
    assert time.perf_counter() - started < 1
    shown = etree.tostring(root, encoding="unicode") if root is not None else ""
    assert len(shown) < 10_000, "an entity was expanded"
    assert_nothing_leaked(shown, dtd_server)


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_alur_lint_and_deploy_refuse_the_attack_with_a_one_line_reason(kind, attack_list, cli_folder, monkeypatch,
                                                                        capsys, tmp_path, dtd_server):
    attack = attack_list[kind]
    path = tmp_path / "jahat.bpmn"
    path.write_bytes(attack.data)
    line, words = attack.engine
    where = f"{path}:{line}:" if line else f"{path}:"
    code, out, err = run_cli(monkeypatch, capsys, cli_folder, "lint", str(path))
    assert code == 1 and f"{where} error: " in out and words in out, out + err
    code, out, err = run_cli(monkeypatch, capsys, cli_folder, "deploy", str(path), "--as", "admin")
    assert code == 1 and "nothing was deployed" in err and words in err, out + err
    assert cli_deployments(cli_folder) == 0
    assert_nothing_leaked(out + err, dtd_server)


def test_the_real_alur_command_refuses_an_entity_reading_a_canary_file_and_a_50_mb_file(attack_list, tmp_path,
                                                                                      monkeypatch, dtd_server):
    """The installed entry point (one subprocess), not only its in-process main()."""
    import os

    env = {**os.environ, "ALUR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "ALUR_DATA_DIR": str(tmp_path)}
    monkeypatch.setenv("ALUR_DATABASE_URL", env["ALUR_DATABASE_URL"])
    monkeypatch.setenv("ALUR_DATA_DIR", str(tmp_path))
    assert cli.main(["init"]) == 0
    paths = []
    for kind in ("xxe canary file", "50 MB", "parameter entities"):
        path = tmp_path / f"{kind.replace(' ', '_')}.bpmn"
        path.write_bytes(attack_list[kind].data)
        paths.append(path)
    result = subprocess.run([str(ALUR), "deploy", *map(str, paths), "--as", "admin"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1, result
    assert result.stderr.startswith("alur: 3 problem(s) found; nothing was deployed"), result.stderr
    assert f"{paths[0]}:2: error: DOCTYPE" in result.stderr and f"{paths[2]}:2: error: DOCTYPE" in result.stderr
    assert f"{paths[1]}: error: the file is 50.0 MB" in result.stderr, result.stderr
    assert cli_deployments(tmp_path) == 0
    assert_nothing_leaked(result.stdout + result.stderr, dtd_server)


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_the_deploy_page_refuses_the_attack_with_a_clear_message_and_no_500(kind, attack_list, site, deployer,
                                                                             dtd_server):
    attack = attack_list[kind]
    before, staged_before = row_counts(site.alur), staged(site)
    response = upload(deployer, "jahat.bpmn", attack.data)
    page = text(response)
    status, words = attack.web
    assert response.status_code == status, page[:2000]
    assert words in html.unescape(page)
    if status == 422:
        [row] = problem_rows(page)
        assert row[:3] == ["Error", "jahat.bpmn", str(attack.engine[0])], row
    assert 'name="token"' not in page
    assert staged(site) == staged_before and row_counts(site.alur) == before
    assert_nothing_leaked(page, dtd_server)


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_the_modeler_refuses_the_attack_on_save_check_or_deploy(kind, attack_list, site, deployer, dtd_server):
    attack = attack_list[kind]
    draft_id = new_draft(deployer)
    before = row_counts(site.alur)
    try:
        xml_text = attack.data.decode("utf-8")
    except UnicodeDecodeError:
        xml_text = attack.data.decode("latin-1")  # what a script could still send
    saved = post_json(deployer, f"/rancangan/{draft_id}/simpan", {"xml": xml_text, "row_version": 1})
    if len(attack.data) > 5 * 1024 * 1024:
        assert saved.status_code == 413, saved.status_code  # over the request limit: refused before it is read
        assert "larger than" in text(saved)
    elif not attack.data.strip():
        assert saved.status_code == 400 and "empty" in saved.get_json()["message"]
    else:
        assert saved.status_code == 200, saved.get_json()
        report = post_json(deployer, f"/rancangan/{draft_id}/periksa", {}).get_json()
        assert not report["ok"] and report["problems"][0]["severity"] == "error"
        assert attack.engine[1] in report["problems"][0]["message"] and report["problems"][0]["line"] is not None
        response = post_json(deployer, f"/rancangan/{draft_id}/terapkan", {"note": "coba", "row_version": 2})
        assert response.status_code == 400 and response.get_json()["error"] == "diagram_invalid"
        assert_nothing_leaked(json.dumps(report) + text(response), dtd_server)
    with site.alur.uow(write=False) as uow:
        draft = uow.drafts.get(draft_id)
    assert draft.deployed_version is None
    assert draft.row_version == (2 if attack.data.strip() and len(attack.data) <= 5 * 1024 * 1024 else 1)
    after = row_counts(site.alur)
    assert after == before, "a refused save or deploy stores nothing (the draft row was made before)"


# --- markup in names: deployed, and shown as text everywhere ----------------------------------------------------------

NAMES_KEY = "hostile_names"
PROCESS = "Layanan <script>window.__pwned='process'</script>"
NOMOR = "W.1 <script>window.__pwned='nomor'</script>"
LANE_1 = "Klien <script>window.__pwned='lane'</script>"
LANE_2 = 'Duta "><img src=x onerror="window.__pwned=\'lane2\'">'
STEP_A = '1. Isi "><img src=x onerror="window.__pwned=\'step\'">'
STEP_A2 = STEP_A.replace("1. Isi", "1. Isi ulang")  # its name in version 2
STEP_A_DOC = "Langkah <script>window.__pwned='step-doc'</script>"
STEP_B = "2. <script>window.__pwned='step2'</script> Periksa"
KELENGKAPAN = "Berkas <script>window.__pwned='kelengkapan'</script>"
KETERANGAN = "Ket <script>window.__pwned='keterangan'</script>"
OUTPUT = 'Hasil "><img src=x onerror="window.__pwned=\'output\'">'
FIELD_LABEL = "Catatan <script>window.__pwned='label'</script>"
FIELD_DEFAULT = '"><img src=x onerror="window.__pwned=\'default\'">'
CHOICE_YA = 'Ya <img src=x onerror="window.__pwned=\'choice\'">'
ENTERED = "<script>window.__pwned='entered'</script>"
RAW = ("<script>window.__pwned", "<img src=x", "onerror=\"window", "<b>tebal</b>")


def assert_shown_as_text(page: str, *shown: str) -> None:
    """None of the markup is live in the page, and each of `shown` is there as escaped text."""
    for raw in RAW:
        assert raw not in page, f"{raw!r} is live markup in the page"
    for value in shown:
        assert str(html_escape(value)) in page, f"{value!r} is not shown as text"


@dataclass
class NamedCase:
    office: str
    first: str
    second: str
    instance_id: int
    item_a: str
    item_b: str


@pytest.fixture(scope="module")
def named_case(site, deployer) -> NamedCase:
    """hostile_names deployed through the deploy page, as versions 1 and 2, and a case walked past its first step."""
    data = (HOSTILE / "hostile_names.bpmn").read_bytes()
    page = text(upload(deployer, "hostile_names.bpmn", data))
    token = re.search(r'<input type="hidden" name="token" value="([^"]+)">', page)
    assert token, problem_rows(page)
    assert_shown_as_text(page, PROCESS, STEP_B)  # the plan names the process, a warning names step B
    response = deployer.post("/kelola/unggah/terapkan", {"token": token.group(1), "note": "<script>x</script>"})
    assert response.status_code == 302, text(response)
    office = site.office("H")
    first, second = site.user((LANE_1, office), prefix="klien"), site.user((LANE_2, office), prefix="duta")
    instance = site.start(NAMES_KEY, first, office)
    item_a = site.only_ready(instance.id)
    site.complete(item_a.id, first, {"catatan": ENTERED})
    item_b = site.only_ready(instance.id)
    services.deploy(site.alur.uow(), [("hostile_names.bpmn", data.replace(b"1. Isi", b"1. Isi ulang"))],
                    actor="admin", note="v2")
    return NamedCase(office, first, second, instance.id, item_a.id, item_b.id)


def test_markup_in_names_is_shown_as_text_on_the_pages_of_the_people_doing_the_steps(site, named_case):
    first, second = site.browser(named_case.first), site.browser(named_case.second)
    pages = {
        "/layanan": (first, [PROCESS, NOMOR]),
        f"/layanan/{NAMES_KEY}": (first, [PROCESS]),
        "/tugas": (second, [STEP_B, PROCESS]),
        f"/tugas/{named_case.item_b}": (second, [STEP_B, PROCESS, CHOICE_YA, KELENGKAPAN]),
        f"/kasus/{named_case.instance_id}": (second, [PROCESS, STEP_A, STEP_B, ENTERED]),
    }
    for url, (browser, shown) in pages.items():
        response = browser.get(url)
        assert response.status_code == 200, url
        assert_shown_as_text(text(response), *shown)
    diagram = first.get(f"/kasus/{named_case.instance_id}/diagram.bpmn")
    assert diagram.status_code == 200 and diagram.mimetype == "application/xml"
    assert diagram.headers.get("X-Content-Type-Options") == "nosniff"
    # opened on its own it is a download in a sandbox, never a page whose XHTML/SVG extensions come alive
    assert diagram.headers["Content-Disposition"].startswith("attachment")
    assert diagram.headers["Content-Security-Policy"].startswith("sandbox")


def test_the_task_page_shows_documentation_properties_and_form_labels_as_text(site, named_case):
    instance = site.start(NAMES_KEY, named_case.first, named_case.office)
    item = site.only_ready(instance.id)
    page = text(site.browser(named_case.first).get(f"/tugas/{item.id}"))
    assert_shown_as_text(page, STEP_A2, STEP_A_DOC, KETERANGAN, OUTPUT, FIELD_LABEL, FIELD_DEFAULT)


def test_markup_in_names_is_shown_as_text_on_the_admin_and_modeler_pages(site, named_case):
    admin = site.browser("admin")
    pages = {
        "/kelola": [],
        "/kelola/proses": [PROCESS],
        f"/kelola/proses/{NAMES_KEY}": [PROCESS, "<script>x</script>"],
        f"/kelola/proses/{NAMES_KEY}/peran": [LANE_1, LANE_2],
        f"/kelola/proses/{NAMES_KEY}/beda?dari=1&ke=2": [STEP_A, STEP_A2],
        "/kelola/kasus": [PROCESS],
    }
    for url, shown in pages.items():
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_shown_as_text(text(response), *shown)
    response = admin.post("/rancangan/salin", {"source": f"{NAMES_KEY}:1"})
    assert response.status_code == 302
    editor = admin.get(response.headers["Location"])
    assert editor.status_code == 200
    assert_shown_as_text(text(editor), PROCESS)
    assert_shown_as_text(text(admin.get("/rancangan")), PROCESS)
    downloaded = admin.get(f"/kelola/proses/{NAMES_KEY}/v1.bpmn")
    assert downloaded.headers["Content-Disposition"].startswith("attachment")
