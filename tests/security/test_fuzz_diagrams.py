"""Fuzzing the deploy path: 1,000 deterministic mutations of the seed SOPs and of real editor exports.

Each case is one mutation (fixed seed) of a seed diagram (bpmn/*.bpmn) or of a file of the MIWG interoperability
suite (../shared/interop/): dropped elements, duplicated elements (duplicate ids), dangling references, renamed
tags, garbage attribute values, garbage timer texts, and random bytes flipped, inserted or cut off. For each:

- lint never raises, and every problem is a one-line sentence with a file;
- deploy either succeeds or raises one of Alur's own errors (engine.errors.AlurError), never another exception;
- a failed deploy leaves every table exactly as it was (row counts);
- a successful deploy leaves a deployment whose stored spec loads, and for a sample a case starts on it.

A failure names the case number, its seed, its source and its mutation, so it can be replayed with `replay(n)`.
"""

from __future__ import annotations

import copy
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from adapters import tables
from adapters.sql import Office
from engine import runtime, services
from engine.errors import AlurError
from tests.conftest import ROOT, SHARED, make_app
from tests.web.helpers import PASSWORD_HASH

SEEDS = sorted((ROOT / "bpmn").glob("*.bpmn"))
INTEROP = sorted((SHARED / "interop").glob("**/*.bpmn"))
CASES = 1000
PG_SAMPLE_STEP = 9  # every 9th case again on PostgreSQL (9 and the 10 operators share no factor: all are sampled)
BASE_SEED = 20_261_121
START_EVERY = 5  # start a case on every 5th successful deploy
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
REF_ATTRIBUTES = ("sourceRef", "targetRef", "attachedToRef", "default", "processRef", "calledElement",
                  "messageRef", "escalationRef", "errorRef", "signalRef", "bpmnElement", "dataObjectRef",
                  "categoryValueRef", "sourceElement", "targetElement", "structureRef", "itemSubjectRef")
REF_TEXTS = ("flowNodeRef", "incoming", "outgoing", "sourceRef", "targetRef")
OTHER_TAGS = ("task", "userTask", "manualTask", "scriptTask", "serviceTask", "startEvent", "endEvent",
              "boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent", "exclusiveGateway",
              "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway", "subProcess",
              "callActivity", "sequenceFlow", "lane", "laneSet", "process", "participant", "collaboration",
              "timerEventDefinition", "messageEventDefinition", "errorEventDefinition", "escalationEventDefinition",
              "signalEventDefinition", "terminateEventDefinition", "conditionExpression", "timeDuration",
              "timeDate", "timeCycle", "documentation", "extensionElements", "dataObject", "textAnnotation",
              "multiInstanceLoopCharacteristics", "standardLoopCharacteristics", "definitions", "flowNodeRef")
GARBAGE = ("", " ", "-1", "0", "true", "false", "null", "None", "P", "PT", "R/", "R-1/PT1H", "P9999999999999D",
           "PT1H/PT2H", "${x}", "#{x}", "x == ", "==", "'", '"', "<", "&", "]]>", "\u202e", "\U0001f600",
           "__import__('os').system('true')", "().__class__.__base__", "a" * 250, "b" * 40, "é" * 320,
           "Lane_" * 60, "9" * 400, "1e309", "nan", "\t\n")
TIMER_GARBAGE = ("", "P", "PT", "R", "R/", "R0/PT1H", "R-1/PT1H", "R999999999/PT0S", "P1Y2M3W4DT5H6M7S",
                 "PT-1H", "P99999999999999Y", "2026-13-45T25:61:00", "2026-02-30T00:00:00+07:00", "PT1H/PT2H",
                 "R3/2026-01-01T00:00:00Z/PT1H", "R3//", "R/P1D/P1D", "'PT1H", "\"PT1H'", "PT1.5H", "PT1,5H",
                 "P1.5Y", "1e9", "now", "timedelta(hours=1)", "__import__('os')", "datetime.now()", "9" * 300,
                 "P0D", "PT0S", "-PT1H", "+PT1H", "P1W1D", "R1/P1D/2026-01-01", "P10000D")
OPERATORS = ("drop", "duplicate", "dangling", "retarget", "rename_tag", "garbage_attribute", "garbage_timer",
             "flip_bytes", "insert_bytes", "truncate")


@dataclass
class Case:
    number: int
    seed: int
    source: Path
    operator: str
    detail: str
    data: bytes
    allow_non_executable: bool

    def __str__(self) -> str:
        return (f"case {self.number} (seed {self.seed}): {self.operator} on "
                f"{self.source.relative_to(self.source.parents[1])}: {self.detail}")


_TREES: dict[Path, etree._ElementTree] = {}


def _tree(path: Path) -> etree._ElementTree:
    if path not in _TREES:
        _TREES[path] = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    return copy.deepcopy(_TREES[path])


def _elements(tree) -> list:
    return [n for n in tree.getroot().iter() if isinstance(n.tag, str)]


def _serialize(tree) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _name(node) -> str:
    return f"<{etree.QName(node).localname} id={node.get('id')!r}>"


def _mutate_bytes(rng: random.Random, path: Path, operator: str) -> tuple[str, bytes]:
    data = bytearray(path.read_bytes())
    if operator == "flip_bytes":
        spots = sorted(rng.randrange(len(data)) for _ in range(rng.randint(1, 8)))
        for spot in spots:
            data[spot] ^= 1 << rng.randrange(8)
        return f"flipped bits at {spots}", bytes(data)
    if operator == "insert_bytes":
        spot, chunk = rng.randrange(len(data)), bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        return f"inserted {chunk!r} at {spot}", bytes(data[:spot] + chunk + data[spot:])
    spot = rng.randrange(len(data))
    return f"cut at byte {spot} of {len(data)}", bytes(data[:spot])


def _mutate(rng: random.Random, path: Path, operator: str) -> tuple[str, bytes]:
    """Apply one mutation to the diagram at `path`; return what was done and the bytes."""
    if operator in ("flip_bytes", "insert_bytes", "truncate"):
        return _mutate_bytes(rng, path, operator)
    tree = _tree(path)
    nodes = [n for n in _elements(tree) if n is not tree.getroot()]
    if operator == "drop":
        victim = rng.choice(nodes)
        victim.getparent().remove(victim)
        return f"dropped {_name(victim)}", _serialize(tree)
    if operator == "duplicate":
        with_id = [n for n in nodes if n.get("id")] or nodes
        victim = rng.choice(with_id)
        victim.addnext(copy.deepcopy(victim))
        return f"duplicated {_name(victim)}", _serialize(tree)
    if operator in ("dangling", "retarget"):
        ids = [n.get("id") for n in nodes if n.get("id")]
        holders = [(n, a) for n in nodes for a in REF_ATTRIBUTES if n.get(a) is not None]
        texts = [n for n in nodes if etree.QName(n).localname in REF_TEXTS and (n.text or "").strip()]
        target = f"nowhere_{rng.randrange(10**6)}" if operator == "dangling" or not ids else rng.choice(ids)
        if holders and (not texts or rng.random() < 0.7):
            node, attribute = rng.choice(holders)
            node.set(attribute, target)
            return f"{attribute} of {_name(node)} -> {target!r}", _serialize(tree)
        if texts:
            node = rng.choice(texts)
            node.text = target
            return f"text of {_name(node)} -> {target!r}", _serialize(tree)
        return "nothing to point elsewhere", _serialize(tree)
    if operator == "rename_tag":
        victim = rng.choice([n for n in nodes if n.tag.startswith(f"{{{BPMN}}}")] or nodes)
        new = rng.choice(OTHER_TAGS)
        before = _name(victim)
        victim.tag = f"{{{BPMN}}}{new}"
        return f"renamed {before} to <{new}>", _serialize(tree)
    if operator == "garbage_attribute":
        with_attributes = [n for n in nodes if n.attrib] or [tree.getroot()]
        node = rng.choice(with_attributes)
        attribute = rng.choice(list(node.attrib)) if node.attrib else "id"
        value = rng.choice(GARBAGE)
        node.set(attribute, value)
        return f"{attribute} of {_name(node)} = {value[:40]!r}", _serialize(tree)
    if operator == "garbage_timer":
        timers = [n for n in nodes if etree.QName(n).localname in ("timeDuration", "timeDate", "timeCycle")]
        value = rng.choice(TIMER_GARBAGE)
        if timers:
            node = rng.choice(timers)
            node.text = value
            if rng.random() < 0.5:  # and often the kind of timer too
                node.tag = f"{{{BPMN}}}{rng.choice(('timeDuration', 'timeDate', 'timeCycle'))}"
            return f"timer {_name(node.getparent().getparent())} = {value[:40]!r} as <{node.tag[-12:]}>", \
                _serialize(tree)
        docs = [n for n in nodes if etree.QName(n).localname == "documentation"] or nodes
        node = rng.choice(docs)
        node.text = value
        return f"no timer; text of {_name(node)} = {value[:40]!r}", _serialize(tree)
    raise AssertionError(operator)


def make_case(number: int) -> Case:
    """Case `number`: the same source, mutation and bytes on every run."""
    seed = BASE_SEED + number
    rng = random.Random(seed)
    # Seeds deploy cleanly, so their mutations reach the deploy path; interop files mostly test lint.
    sources = SEEDS if (number % 3 != 2 or not INTEROP) else INTEROP
    source = rng.choice(sources)
    operator = OPERATORS[number % len(OPERATORS)]
    detail, data = _mutate(rng, source, operator)
    return Case(number, seed, source, operator, detail, data, allow_non_executable=rng.random() < 0.5)


# --- running a case ---------------------------------------------------------------------------------------------------

TABLES = [t for t in tables.metadata.sorted_tables]


def row_counts(alur) -> dict[str, int]:
    with alur.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES}


@dataclass
class Outcome:
    linted_ok: bool = False
    deployed: int = 0
    refused: str | None = None
    started: bool = False


def run_case(alur, case: Case, *, start=lambda: False) -> Outcome:
    """Lint and deploy one case; raise AssertionError naming the case when a property does not hold."""
    files = [(case.source.name, case.data)]
    outcome = Outcome()
    try:
        report = services.lint(files, allow_non_executable=case.allow_non_executable)
    except Exception as err:  # noqa: BLE001 - that is the finding
        raise AssertionError(f"{case}: lint raised {type(err).__name__}: {err}") from err
    outcome.linted_ok = report.ok
    for p in report.problems:
        assert p.file == case.source.name and p.message and "\n" not in p.message, f"{case}: {p!r}"
        assert p.line is None or (isinstance(p.line, int) and p.line > 0), f"{case}: {p!r}"
        assert "Traceback" not in p.message and " at 0x" not in p.message, f"{case}: {p!r}"
    before = row_counts(alur)
    try:
        results, _ = services.deploy(alur.uow(), files, allow_non_executable=case.allow_non_executable)
    except AlurError as err:
        outcome.refused = type(err).__name__
        assert str(err).strip(), f"{case}: {type(err).__name__} without a message"
        after = row_counts(alur)
        assert after == before, f"{case}: the refused deploy ({err}) changed the database: {before} -> {after}"
        return outcome
    except Exception as err:  # noqa: BLE001 - that is the finding
        raise AssertionError(f"{case}: deploy raised {type(err).__name__}: {err}") from err
    assert report.ok, f"{case}: deploy succeeded although lint found {report.errors}"
    assert results, f"{case}: a successful deploy deployed nothing"
    for deployment, _created in results:
        outcome.deployed += 1
        with alur.uow(write=False) as uow:
            stored = uow.deployments.get(deployment.id)
            spec_json = uow.deployments.spec_json(deployment.id)
        assert stored is not None and stored.key == deployment.key, f"{case}: deployment not stored"
        spec, subprocesses = runtime.spec_from_json(spec_json)
        assert spec.name == deployment.key, f"{case}: the stored spec is of {spec.name}, not {deployment.key}"
        runtime.new_workflow(spec, subprocesses)
    if start():
        deployment = results[0][0]
        try:
            services.start(alur.uow(), deployment.key, actor="fuzzer", office=deployment.office or "FZ")
            outcome.started = True
        except Exception as err:  # noqa: BLE001 - that is the finding: what deploys must start
            raise AssertionError(f"{case}: starting a case raised {type(err).__name__}: {err}") from err
    return outcome


def fuzz_site(url: str, folder: Path):
    """A fresh database with the offices the seeds name and an administrator who may start any of them."""
    alur = make_app(url, folder)
    with alur.uow() as uow:
        for code in ("FZ", "MALUT", "DKI", "BABEL", "BENGKULU"):
            uow.directory.add_office(Office(code, f"Kantor {code}", "Asia/Jakarta", "elapsed"))
        uow.directory.add_user("fuzzer", PASSWORD_HASH, "Fuzzer", None, services.utcnow())
        uow.directory.grant("fuzzer", "admin", None)
        uow.commit()
    return alur


def fuzz(alur, numbers) -> dict:
    """Run the cases; return the figures (raises AssertionError at the first property that fails)."""
    figures = {"cases": 0, "lint_ok": 0, "deployed": 0, "refused": {}, "started": 0, "by_operator": {}}
    successes = [0]

    def start() -> bool:
        successes[0] += 1
        return successes[0] % START_EVERY == 1

    for number in numbers:
        case = make_case(number)
        try:
            outcome = run_case(alur, case, start=start)
        except AssertionError:
            raise
        except Exception as err:  # noqa: BLE001 - e.g. a stored spec that does not load: name the case
            raise AssertionError(f"{case}: {type(err).__name__}: {err}") from err
        figures["cases"] += 1
        figures["lint_ok"] += outcome.linted_ok
        figures["deployed"] += bool(outcome.deployed)
        figures["started"] += outcome.started
        if outcome.refused:
            figures["refused"][outcome.refused] = figures["refused"].get(outcome.refused, 0) + 1
        figures["by_operator"].setdefault(case.operator, [0, 0])
        figures["by_operator"][case.operator][0] += 1
        figures["by_operator"][case.operator][1] += bool(outcome.deployed)
    return figures


def replay(number: int, url: str | None = None) -> Outcome:
    """Re-run one case on a fresh SQLite database (for debugging a failure by hand)."""
    import tempfile

    folder = Path(tempfile.mkdtemp())
    alur = fuzz_site(url or f"sqlite:///{folder / 'alur.db'}", folder)
    case = make_case(number)
    print(case)
    return run_case(alur, case, start=lambda: True)


# --- the tests --------------------------------------------------------------------------------------------------------

def test_the_mutations_are_deterministic_and_cover_every_operator_and_both_kinds_of_source():
    first = [make_case(n) for n in range(0, 60)]
    again = [make_case(n) for n in range(0, 60)]
    assert [(c.detail, c.data) for c in first] == [(c.detail, c.data) for c in again]
    assert {c.operator for c in first} == set(OPERATORS)
    assert {c.source.parent.name == "bpmn" for c in first} == ({True, False} if INTEROP else {True})
    assert all(c.data != c.source.read_bytes() for c in first if c.operator != "dangling"
               or "nothing" not in c.detail)


def test_a_thousand_mutations_deploy_cleanly_or_raise_only_alur_errors_on_sqlite(tmp_path):
    assert SEEDS, "the seed diagrams are missing"
    alur = fuzz_site(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path)
    started = time.perf_counter()
    figures = fuzz(alur, range(CASES))
    elapsed = time.perf_counter() - started
    print(f"\nfuzz on SQLite: {figures} in {elapsed:.1f} s")
    assert figures["cases"] == CASES
    # The fuzzer must reach both ends: some mutations deploy (and start), many are refused.
    assert figures["deployed"] >= 50 and figures["started"] >= 10, figures
    assert sum(figures["refused"].values()) >= 300, figures
    alur.engine.dispose()


def test_a_sample_of_the_mutations_on_postgresql(postgres_schema_factory, tmp_path):
    alur = fuzz_site(postgres_schema_factory(), tmp_path)
    figures = fuzz(alur, range(0, CASES, PG_SAMPLE_STEP))
    print(f"\nfuzz on PostgreSQL: {figures}")
    assert figures["cases"] == len(range(0, CASES, PG_SAMPLE_STEP)) and figures["deployed"] >= 10, figures
    assert set(figures["by_operator"]) == set(OPERATORS)
    alur.engine.dispose()


LONG = {
    "process id": (f"{{{BPMN}}}process", "id", "p" * 201, "an id may have at most 200"),
    "process name": (f"{{{BPMN}}}process", "name", "n" * 301, "a process name may have at most 300"),
    "step id": (f"{{{BPMN}}}userTask", "id", "s" * 201, "an id may have at most 200"),
    "step name": (f"{{{BPMN}}}userTask", "name", "m" * 501, "a step name may have at most 500"),
    "lane name": (f"{{{BPMN}}}lane", "name", "l" * 201, "a lane name may have at most 200"),
}


@pytest.fixture(scope="module")
def postgres_fuzz_site(postgres_schema_factory, tmp_path_factory):
    alur = fuzz_site(postgres_schema_factory(), tmp_path_factory.mktemp("fuzz-pg"))
    yield alur
    alur.engine.dispose()


@pytest.mark.parametrize("what", sorted(LONG))
def test_an_overlong_id_or_name_is_refused_by_lint_at_its_element_not_by_the_database(what, postgres_fuzz_site):
    """PostgreSQL enforces the column lengths that SQLite ignores; lint refuses first, naming element and line."""
    tag, attribute, value, words = LONG[what]
    tree = _tree(ROOT / "bpmn" / "sop_003_pengaduan_masyarakat.bpmn")
    node = next(tree.getroot().iter(tag))
    node.set(attribute, value)
    data = _serialize(tree)
    report = services.lint([("sop_003.bpmn", data)])
    [problem] = [p for p in report.errors if words in p.message]
    assert problem.line == node.sourceline and problem.element == node.get("id")
    before = row_counts(postgres_fuzz_site)
    with pytest.raises(AlurError):
        services.deploy(postgres_fuzz_site.uow(), [("sop_003.bpmn", data)])
    assert row_counts(postgres_fuzz_site) == before


def test_a_process_id_of_200_characters_deploys_and_starts_on_postgresql(postgres_fuzz_site):
    """The longest id allowed, made of sop_ and digits, which the case number is built from."""
    key = "sop_" + "1" * 196
    data = (ROOT / "bpmn" / "sop_003_pengaduan_masyarakat.bpmn").read_bytes()
    for attribute in (b'id="', b'processRef="'):
        data = data.replace(attribute + b'sop_003_pengaduan_masyarakat"', attribute + key.encode() + b'"')
    [(deployment, created)], _ = services.deploy(postgres_fuzz_site.uow(), [("long.bpmn", data)])
    assert created and deployment.key == key
    instance = services.start(postgres_fuzz_site.uow(), key, actor="fuzzer")
    assert len(instance.number) <= 64 and instance.number.startswith("SOP111111111111-")


# --- what the fuzzer found, each kept as a test -----------------------------------------------------------------------

SOP003 = ROOT / "bpmn" / "sop_003_pengaduan_masyarakat.bpmn"


def _first_timer(tree):
    return next(n for n in tree.getroot().iter(f"{{{BPMN}}}timeDuration"))


@pytest.mark.parametrize("tag, value", [
    ("timeDuration", "R3/2026-01-01T00:00:00Z/PT1H"), ("timeDuration", "R1/P1D/2026-01-01"),
    ("timeDuration", "2026-12-01T08:00:00+07:00"), ("timeDate", "P0D"), ("timeDate", "R3/PT1H"),
    ("timeCycle", "P0D"), ("timeCycle", "2026-12-01T08:00:00+07:00"),
])
def test_a_timer_value_of_the_wrong_kind_is_refused_at_its_timer(tag, value, tmp_path):
    """Found by the fuzzer: a cycle in a timeDuration (and the like) passed lint and crashed starting a case."""
    tree = _tree(SOP003)
    timer = _first_timer(tree)
    timer.tag, timer.text = f"{{{BPMN}}}{tag}", value
    data = _serialize(tree)
    report = services.lint([("sop_003.bpmn", data)])
    [problem] = report.errors
    assert problem.line == timer.sourceline and problem.element == timer.getparent().get("id")
    assert f"a <{tag}> holds a" in problem.message and value in problem.message
    alur = fuzz_site(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path)
    before = row_counts(alur)
    with pytest.raises(AlurError):
        services.deploy(alur.uow(), [("sop_003.bpmn", data)])
    assert row_counts(alur) == before
    alur.engine.dispose()


@pytest.mark.parametrize("value, words", [
    ("R999999999/PT0S", "repeats 999999999 times"), ("R/PT1H", "repeats without end"), ("R0/PT1H", "repeats 0 times"),
    ("R5/PT1S", "every 1 seconds"), ("R100/2020-01-01T00:00:00Z/PT0.5M", "every 30 seconds"),
])
def test_a_cycle_that_would_flood_the_engine_is_refused(value, words):
    """Found by the fuzzer: R999999999/PT0S passed lint and made starting a case spin forever."""
    tree = _tree(SOP003)
    timer = _first_timer(tree)
    timer.tag, timer.text = f"{{{BPMN}}}timeCycle", value
    report = services.lint([("sop_003.bpmn", _serialize(tree))])
    [problem] = report.errors
    assert problem.line == timer.sourceline and words in problem.message, problem


def test_a_bounded_cycle_deploys_and_a_case_starts(tmp_path):
    tree = _tree(SOP003)
    timer = _first_timer(tree)
    timer.tag, timer.text = f"{{{BPMN}}}timeCycle", "R100/2020-01-01T00:00:00Z/PT1M"
    alur = fuzz_site(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path)
    [(deployment, _)], _ = services.deploy(alur.uow(), [("sop_003.bpmn", _serialize(tree))])
    started = time.perf_counter()
    services.start(alur.uow(), deployment.key, actor="fuzzer")  # all 100 repeats are due at once
    assert time.perf_counter() - started < 5
    alur.engine.dispose()


def test_a_loop_that_no_gateway_can_leave_is_refused_at_its_first_element():
    """Found by the fuzzer: a flow pointed back into the steps before it made SpiffWorkflow recurse without end."""
    tree = _tree(SOP003)
    flow = next(f for f in tree.getroot().iter(f"{{{BPMN}}}sequenceFlow") if f.get("id") == "Flow_Langkah_14")
    flow.set("targetRef", "Langkah_11")
    report = services.lint([("sop_003.bpmn", _serialize(tree))])
    [problem] = report.errors
    step = next(n for n in tree.getroot().iter(f"{{{BPMN}}}userTask") if n.get("id") == "Langkah_11")
    assert (problem.line, problem.element) == (step.sourceline, "Langkah_11")
    assert "loop" in problem.message and "Langkah_11 → Langkah_12 → Langkah_13 → Langkah_14" in problem.message


def _chain(steps: int) -> bytes:
    refs = "".join(f"<bpmn:flowNodeRef>t{i}</bpmn:flowNodeRef>" for i in range(steps))
    body = "".join(f'<bpmn:userTask id="t{i}" name="{i}"/><bpmn:sequenceFlow id="f{i}" sourceRef="t{i}" '
                   f'targetRef="{f"t{i + 1}" if i + 1 < steps else "e"}"/>\n' for i in range(steps))
    return (f'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="{BPMN}" id="d" targetNamespace="x">\n'
            f'<bpmn:process id="panjang" isExecutable="true">\n<bpmn:laneSet><bpmn:lane id="L" name="Klien">{refs}'
            f'</bpmn:lane></bpmn:laneSet>\n<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" '
            f'targetRef="t0"/>\n{body}<bpmn:endEvent id="e"/></bpmn:process></bpmn:definitions>\n').encode()


@pytest.mark.parametrize("steps", [500, 1200])
def test_a_process_too_long_for_the_engine_is_refused_not_a_recursion_error(steps):
    """Found while fuzzing: from ~490 elements in a row SpiffWorkflow (and the main-path search) overflowed."""
    report = services.lint([("panjang.bpmn", _chain(steps))])
    [problem] = report.errors
    assert (problem.line, problem.element) == (3, "panjang")
    assert f"has {steps + 2} tasks, events and gateways" in problem.message and "at most 300" in problem.message


def test_a_process_of_nearly_the_limit_deploys_and_starts(tmp_path):
    alur = fuzz_site(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path)
    [(deployment, _)], _ = services.deploy(alur.uow(), [("panjang.bpmn", _chain(298))])
    services.start(alur.uow(), deployment.key, actor="fuzzer", office="FZ")
    alur.engine.dispose()


def test_a_syntax_error_spread_over_lines_by_libxml2_is_one_line_naming_its_line():
    """Found by the fuzzer: a NUL byte gave "...out of allowed range\\n, line 15, column 76"."""
    data = bytearray(SOP003.read_bytes())
    data[data.index(b"<bpmn:process")] = 0
    [problem] = services.lint([("sop_003.bpmn", bytes(data))]).problems
    assert "\n" not in problem.message and problem.line == 6, problem
    assert problem.message.startswith("the file is not well-formed XML: ") and "column" not in problem.message


WEB_SAMPLE_STEP = 11  # every 11th case through the deploy page as well


def test_a_sample_of_the_mutations_through_the_deploy_page_never_gives_a_500(site):
    """The report page renders whatever lint says about a mutation; what checks clean deploys from the page."""
    import io

    from tests.web.helpers import text

    browser = site.browser(site.user(("deployer", None), prefix="penerap"))
    statuses: dict[int, int] = {}
    for number in range(0, CASES, WEB_SAMPLE_STEP):
        case = make_case(number)
        before = row_counts(site.alur)
        response = browser.upload("/kelola/unggah", {"files": [(io.BytesIO(case.data), case.source.name)]})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400, 422), f"{case}: HTTP {response.status_code}"
        page = text(response)
        assert 'class="card narrow error-page"' not in page, f"{case}: an error page"
        token = re.search(r'<input type="hidden" name="token" value="([^"]+)">', page)
        if response.status_code != 200 or not token:
            assert row_counts(site.alur) == before, case
            continue
        deployed = browser.post("/kelola/unggah/terapkan", {"token": token.group(1), "note": f"fuzz {number}"})
        assert deployed.status_code == 302, f"{case}: deploying from the page gave HTTP {deployed.status_code}"
    assert statuses.get(200, 0) >= 10 and statuses.get(422, 0) >= 30, statuses


MODELER_SAMPLE_STEP = 23  # every 23rd case through the modeler's save, check and deploy


def test_a_sample_of_the_mutations_through_the_modeler_never_gives_a_500(site):
    from tests.web.helpers import text

    browser = site.browser(site.user(("deployer", None), prefix="penerap"))
    response = browser.post("/rancangan/baru", {"name": "Fuzz"})
    assert response.status_code == 302, text(response)
    draft_id = int(response.headers["Location"].rsplit("/", 1)[1])
    row_version, deployed = 1, 0
    for number in range(0, CASES, MODELER_SAMPLE_STEP):
        case = make_case(number)
        headers = {"X-CSRFToken": browser.token or browser.fresh_token()}
        xml_text = case.data.decode("utf-8", "replace")
        saved = browser.client.post(f"/rancangan/{draft_id}/simpan", json={"xml": xml_text, "row_version": row_version},
                                    headers=headers)
        if not xml_text.strip():
            assert saved.status_code == 400, f"{case}: HTTP {saved.status_code}"
            continue
        assert saved.status_code == 200, f"{case}: saving gave HTTP {saved.status_code}"
        row_version = saved.get_json()["row_version"]
        checked = browser.client.post(f"/rancangan/{draft_id}/periksa", json={}, headers=headers)
        assert checked.status_code == 200 and isinstance(checked.get_json()["ok"], bool), case
        before = row_counts(site.alur)
        result = browser.client.post(f"/rancangan/{draft_id}/terapkan", json={"note": f"fuzz {number}"},
                                     headers=headers)
        assert result.status_code in (200, 400, 404), f"{case}: deploying gave HTTP {result.status_code}"
        assert "error" in result.get_json() or result.status_code == 200, case
        if result.status_code == 200:
            deployed += 1
        else:
            assert row_counts(site.alur) == before, case
    assert deployed >= 3


def test_a_draft_whose_process_id_is_too_long_is_saved_and_its_check_names_the_id(site):
    """Found by the fuzzer: on PostgreSQL saving such a draft overflowed drafts.key and answered 500."""
    browser = site.browser(site.user(("analyst", None), prefix="analis"))
    draft_id = int(browser.post("/rancangan/baru", {"name": "Panjang"}).headers["Location"].rsplit("/", 1)[1])
    tree = _tree(SOP003)
    proc = tree.getroot().find(f"{{{BPMN}}}process")
    proc.set("id", "é" * 250)
    headers = {"X-CSRFToken": browser.token or browser.fresh_token()}
    saved = browser.client.post(f"/rancangan/{draft_id}/simpan", headers=headers,
                                json={"xml": _serialize(tree).decode(), "row_version": 1})
    assert saved.status_code == 200, saved.status_code
    report = browser.client.post(f"/rancangan/{draft_id}/periksa", json={}, headers=headers).get_json()
    assert any(p["line"] == proc.sourceline and "at most 200" in p["message"] for p in report["problems"]), report
