"""Lint against hostile and broken diagrams: every problem is reported with its file, line and element, and
nothing in a diagram ever runs.

The code-injection fixtures carry the payload ``__import__('os').system('touch MARKER')``; the tests replace MARKER
with a path in the test's tmp dir, so a payload that ran would leave a file there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.parser import BpmnParser

from engine import runtime, services
from engine.errors import AlurError, ExpressionInvalid
from engine.model import Problem
from engine.services import utcnow

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
INTEROP = ROOT.parent / "shared" / "interop" / "miwg"
ALUR = Path(sys.executable).with_name("alur")
PAYLOAD = "__import__('os').system('touch MARKER')"

# fixture -> the (line, element id) of every offending element, and words the message must contain
INJECTIONS = {
    "condition_injection.bpmn": [(12, "f_yes", ("condition", "not allowed"))],
    "timer_injection.bpmn": [(10, "T", ("timer", "not allowed"))],
    "script_task.bpmn": [(10, "S", ("script task", "never allows"))],
    "pre_post_script.bpmn": [(10, "A", ("preScript", "may not run code")),
                             (11, "A", ("postScript", "may not run code"))],
    "camunda_listener.bpmn": [(10, "A", ("executionListener", "run code")), (11, "A", ("script", "may not run code"))],
}


# --- helpers ---------------------------------------------------------------------------------------------------------

def hostile(name: str) -> tuple[str, bytes]:
    path = HOSTILE / name
    return str(path), path.read_bytes()


def armed(name: str, tmp_path: Path) -> tuple[Path, Path]:
    """Copy a fixture into tmp_path with its payload aimed at tmp_path/MARKER; return (diagram, marker)."""
    marker = tmp_path / "MARKER"
    text = (HOSTILE / name).read_text(encoding="utf-8")
    assert PAYLOAD in text, f"{name} carries no payload"
    path = tmp_path / name
    path.write_text(text.replace("MARKER", str(marker)), encoding="utf-8")
    return path, marker


def assert_plain_sentence(message: str) -> None:
    assert message and message == message.strip(), repr(message)
    assert "\n" not in message, f"a problem must be one line: {message!r}"
    assert len(message.split()) >= 4, f"not a sentence: {message!r}"
    assert "Traceback" not in message and "Exception" not in message, message


def assert_well_formed(problems: list[Problem], filename: str) -> None:
    for p in problems:
        assert p.file == filename, p
        assert p.severity in ("error", "warning", "info"), p
        assert p.line is None or (isinstance(p.line, int) and p.line > 0), p
        assert p.element is None or (isinstance(p.element, str) and p.element), p
        assert_plain_sentence(p.message)


def find(report, line: int | None, element: str | None, *words: str) -> Problem:
    """The one problem at `line` on `element` whose message holds every word."""
    matches = [p for p in report.problems if p.line == line and p.element == element
               and all(w.lower() in p.message.lower() for w in words)]
    assert len(matches) == 1, (f"expected one problem at line {line} on {element} mentioning {words}, got:\n"
                               + "\n".join(map(str, report.problems)))
    return matches[0]


def lint_one(name: str, **kwargs):
    filename, data = hostile(name)
    report = services.lint([(filename, data)], **kwargs)
    assert_well_formed(report.problems, filename)
    return report


def alur(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(ALUR), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def cli_env(tmp_path: Path) -> dict:
    return {**os.environ, "ALUR_DATABASE_URL": f"sqlite:///{tmp_path / 'alur.db'}",
            "ALUR_DATA_DIR": str(tmp_path / "data")}


def spiff_spec(path: Path, key: str):
    """Parse a diagram with SpiffWorkflow directly, bypassing Alur's lint entirely."""
    parser = BpmnParser()
    parser.add_bpmn_file(str(path))
    return parser.get_spec(key), parser.get_subprocess_specs(key)


# --- code injection --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_code_in_a_diagram_is_reported_at_its_line_and_element_and_never_runs(name, tmp_path):
    path, marker = armed(name, tmp_path)
    report = services.lint([(str(path), path.read_bytes())])
    assert not report.ok and not report.processes
    assert_well_formed(report.problems, str(path))
    for line, element, words in INJECTIONS[name]:
        find(report, line, element, *words)
    assert len(report.errors) == len(INJECTIONS[name]), "\n".join(map(str, report.problems))
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_alur_lint_prints_each_injection_with_file_line_and_element_and_exits_1(name, tmp_path):
    path, marker = armed(name, tmp_path)
    result = alur("lint", str(path), env=cli_env(tmp_path))
    assert result.returncode == 1, result
    for line, element, _ in INJECTIONS[name]:
        assert f"{path}:{line}: [{element}] error: " in result.stdout
    assert f"{len(INJECTIONS[name])} error(s)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not marker.exists()


def test_alur_lint_json_lists_the_injected_condition_with_its_line(tmp_path):
    import json

    path, marker = armed("condition_injection.bpmn", tmp_path)
    result = alur("lint", "--json", str(path), env=cli_env(tmp_path))
    assert result.returncode == 1, result
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert [(p["file"], p["line"], p["element"], p["severity"]) for p in body["problems"]] == [
        (str(path), 12, "f_yes", "error")]
    assert not marker.exists()


@pytest.fixture(scope="module")
def initialized_sqlite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy_refused")
    env = cli_env(tmp)
    result = alur("init", env=env)
    assert result.returncode == 0, result.stderr
    return env


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_alur_deploy_refuses_an_injection_deploys_nothing_and_runs_nothing(name, initialized_sqlite, tmp_path):
    path, marker = armed(name, tmp_path)
    result = alur("deploy", str(path), "--as", "admin", env=initialized_sqlite)
    assert result.returncode != 0
    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith("alur: ") and "nothing was deployed" in first_line
    for line, element, _ in INJECTIONS[name]:
        assert f"{path}:{line}: [{element}] error: " in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    listed = alur("processes", "--json", env=initialized_sqlite)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
    assert not marker.exists()


def test_a_condition_smuggled_past_lint_raises_expression_invalid_instead_of_running(tmp_path):
    path, marker = armed("condition_injection.bpmn", tmp_path)
    workflow = runtime.new_workflow(*spiff_spec(path, "condition_injection"))
    runtime.advance(workflow, utcnow(), runtime.elapsed_due_time)
    [task_a] = runtime.ready_human_tasks(workflow)
    with pytest.raises(ExpressionInvalid) as caught:
        runtime.complete(workflow, str(task_a.id), {}, utcnow(), runtime.elapsed_due_time)
    assert isinstance(caught.value, AlurError)
    assert "not allowed" in caught.value.message
    assert not marker.exists()


def test_a_timer_smuggled_past_lint_raises_expression_invalid_instead_of_running(tmp_path):
    path, marker = armed("timer_injection.bpmn", tmp_path)
    workflow = runtime.new_workflow(*spiff_spec(path, "timer_injection"))
    with pytest.raises(ExpressionInvalid):
        runtime.advance(workflow, utcnow(), runtime.elapsed_due_time)
    assert not marker.exists()


def test_a_script_task_smuggled_past_lint_is_refused_by_the_script_engine(tmp_path):
    path, marker = armed("script_task.bpmn", tmp_path)
    workflow = runtime.new_workflow(*spiff_spec(path, "script_task"))
    runtime.advance(workflow, utcnow(), runtime.elapsed_due_time)
    [task_a] = runtime.ready_human_tasks(workflow)
    with pytest.raises(ExpressionInvalid, match="Scripts are not allowed"):
        runtime.complete(workflow, str(task_a.id), {}, utcnow(), runtime.elapsed_due_time)
    assert not marker.exists()


def test_a_pre_script_problem_names_the_user_task_that_carries_it():
    report = lint_one("pre_post_script.bpmn")
    assert "user task '1. A'" in find(report, 10, "A", "preScript").message


# --- XML attacks -----------------------------------------------------------------------------------------------------

def test_an_external_entity_reading_etc_passwd_is_refused_at_the_doctype_line():
    report = lint_one("xxe.bpmn")
    assert [(p.line, p.element) for p in report.problems] == [(2, None)]
    assert "DOCTYPE" in report.problems[0].message
    assert "root:" not in str(report.problems)


def test_a_billion_laughs_entity_bomb_is_refused_quickly_at_the_doctype_line():
    started = time.perf_counter()
    report = lint_one("billion_laughs.bpmn")
    assert time.perf_counter() - started < 1
    assert [(p.line, p.element) for p in report.problems] == [(2, None)]
    assert "entity" in report.problems[0].message


@pytest.mark.parametrize("name", ["xxe.bpmn", "billion_laughs.bpmn"])
def test_a_doctype_hidden_behind_64_kb_of_comment_is_still_refused_without_expanding_anything(name):
    filename, data = hostile(name)
    padded = data.replace(b"?>\n", b"?>\n<!--" + b" " * 70_000 + b"-->\n", 1)
    started = time.perf_counter()
    report = services.lint([(filename, padded)])
    assert time.perf_counter() - started < 1
    assert not report.ok and not report.processes
    assert_well_formed(report.problems, filename)
    assert "root:" not in str(report.problems) and "lollol" not in str(report.problems)


def test_a_doctype_after_a_comment_is_reported_on_the_doctype_line():
    filename, data = hostile("xxe.bpmn")
    report = services.lint([(filename, data.replace(b"?>\n", b"?>\n<!-- exported by a tool -->\n", 1))])
    assert [p.line for p in report.problems] == [3]


# --- unsupported modelling -------------------------------------------------------------------------------------------

def test_a_link_event_pair_is_refused_at_both_events():
    report = lint_one("link_events.bpmn")
    find(report, 10, "LinkOut", "link events are not allowed")
    find(report, 11, "LinkIn", "link events are not allowed")
    assert len(report.errors) == 2


def test_user_tasks_in_an_unnamed_lane_and_in_no_lane_are_both_refused():
    report = lint_one("lanes.bpmn")
    find(report, 10, "B", "no named lane")
    find(report, 12, "C", "no named lane")
    assert len(report.errors) == 2


def test_a_non_executable_process_is_refused_by_default_naming_the_flag_to_override_it():
    report = lint_one("non_executable.bpmn")
    problem = find(report, 4, "non_executable", 'isExecutable="false"', "--allow-non-executable")
    assert problem.severity == "error" and not report.processes


def test_a_non_executable_process_is_accepted_with_a_warning_when_explicitly_allowed():
    report = lint_one("non_executable.bpmn", allow_non_executable=True)
    assert report.ok and [p.key for p in report.processes] == ["non_executable"]
    [warning] = [w for w in report.warnings if "isExecutable" in w.message]
    assert (warning.line, warning.element) == (4, "non_executable")
    assert "explicitly allowed" in warning.message


def test_a_mistyped_iso_duration_is_refused_at_its_timer():
    report = lint_one("invalid_timers.bpmn")
    find(report, 10, "T1", "PT3X", "ISO-8601")


def test_a_timer_written_as_a_word_is_refused_at_its_timer():
    report = lint_one("invalid_timers.bpmn")
    find(report, 17, "T2", "tomorrow")


@pytest.mark.parametrize("written", ["PT3H", "'PT3H'", '"PT3H"'])
def test_an_unquoted_or_quoted_iso_duration_is_accepted_as_the_steps_sla(written):
    filename, data = hostile("unquoted_timer.bpmn")
    report = services.lint([(filename, data.replace(b">PT3H<", f">{written}<".encode()))])
    assert report.ok, "\n".join(map(str, report.problems))
    assert [w.element for w in report.warnings] == ["B"]  # B alone has no standard time
    [info] = report.processes
    assert [(s.id, s.lane, s.sla) for s in info.steps] == [("A", "Klien", "PT3H"), ("B", "Duta", None)]


def test_a_service_task_is_refused_at_its_line():
    report = lint_one("service_task.bpmn")
    find(report, 10, "Svc", "service task 'Kirim ke SIMPEG'", "never allows")
    assert len(report.errors) == 1


def test_a_message_event_is_refused_at_the_event_that_carries_it():
    report = lint_one("message_event.bpmn")
    find(report, 11, "Wait", "message events are not supported")
    assert len(report.errors) == 1


def test_a_camunda_8_zeebe_user_task_extension_is_not_taken_for_a_user_task():
    filename, data = hostile("unquoted_timer.bpmn")
    data = data.replace(b'<bpmn:userTask id="A" name="1. A"/>',
                        b'<bpmn:userTask id="A" name="1. A"><bpmn:extensionElements>'
                        b'<zeebe:userTask xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"/>'
                        b'</bpmn:extensionElements></bpmn:userTask>')
    report = services.lint([(filename, data)])
    assert report.ok, "\n".join(map(str, report.problems))


# --- not a diagram at all --------------------------------------------------------------------------------------------

def test_bytes_that_are_not_xml_are_refused_on_line_1():
    report = lint_one("not_xml.bpmn")
    [problem] = report.problems
    assert problem.line == 1 and "not XML" in problem.message


def test_an_empty_file_is_refused_as_empty():
    report = lint_one("empty.bpmn")
    [problem] = report.problems
    assert problem.message == "the file is empty"


def test_a_file_over_10_mb_is_refused_without_being_parsed():
    head, _ = (HOSTILE / "unquoted_timer.bpmn").read_bytes().split(b"</bpmn:definitions>")
    data = head + b"<!--" + b"x" * (10 * 1024 * 1024) + b"--></bpmn:definitions>\n"
    started = time.perf_counter()
    report = services.lint([("huge.bpmn", data)])
    assert time.perf_counter() - started < 1
    [problem] = report.problems
    assert problem.file == "huge.bpmn" and "10 MB" in problem.message
    assert_plain_sentence(problem.message)


def test_a_diagram_saved_with_a_utf8_byte_order_mark_is_accepted():
    filename, data = hostile("unquoted_timer.bpmn")
    assert services.lint([(filename, b"\xef\xbb\xbf" + data)]).ok


def test_an_id_used_twice_is_reported_at_the_second_use_naming_the_first():
    report = lint_one("duplicate_ids.bpmn")
    find(report, 10, "A", "used twice", "line 8")
    assert len(report.errors) == 1


def test_an_html_document_is_refused_as_not_bpmn():
    report = lint_one("html_root.bpmn")
    [problem] = report.problems
    assert problem.line == 2 and "<html>" in problem.message and "BPMN" in problem.message


# --- several problems at once ----------------------------------------------------------------------------------------

def test_every_problem_in_one_file_is_reported_at_once(tmp_path):
    path, marker = armed("many_problems.bpmn", tmp_path)
    report = services.lint([(str(path), path.read_bytes())])
    assert_well_formed(report.problems, str(path))
    find(report, 10, "T", "PT3X")
    find(report, 15, "S", "script task")
    find(report, 21, "f_yes", "condition", "not allowed")
    find(report, 24, "Svc", "service task")
    find(report, 26, "Wait", "message events")
    find(report, 28, "B", "no named lane")
    find(report, 29, "B", "postScript")
    assert len(report.errors) == 7
    assert not marker.exists()


def test_problems_in_several_files_linted_together_each_name_their_own_file():
    files = [hostile("script_task.bpmn"), hostile("empty.bpmn"), hostile("service_task.bpmn"),
             hostile("unquoted_timer.bpmn")]
    report = services.lint(files)
    assert sorted((Path(p.file).name, p.line, p.element) for p in report.errors) == [
        ("empty.bpmn", None, None), ("script_task.bpmn", 10, "S"), ("service_task.bpmn", 10, "Svc")]
    assert not report.processes


def test_a_clean_diagram_next_to_the_hostile_ones_lints_clean_on_its_own():
    report = lint_one("unquoted_timer.bpmn")
    assert report.ok and [(p.severity, p.element) for p in report.problems] == [
        ("warning", "B"), ("info", "unquoted_timer")]


# --- standard times --------------------------------------------------------------------------------------------------

def test_a_step_without_a_standard_time_is_warned_about_at_its_line_and_deploys_anyway():
    report = lint_one("unquoted_timer.bpmn")
    problem = find(report, 14, "B", "user task '2. B'", "no standard time", "boundary event")
    assert problem.severity == "warning" and report.ok


def test_the_main_path_step_count_and_total_standard_time_are_stated_as_information_not_a_warning():
    path = ROOT / "bpmn" / "sop_003_pengaduan_masyarakat.bpmn"
    report = services.lint([(str(path), path.read_bytes())])
    [info] = report.infos
    assert (info.severity, info.element, info.line) == ("info", "sop_003_pengaduan_masyarakat", 6)
    assert info.message == "process 'sop_003_pengaduan_masyarakat': main path 14 steps, standard time 4 h 50 min"
    assert info not in report.warnings and info not in report.errors and report.ok
    assert f"{path}:6: [sop_003_pengaduan_masyarakat] info: process" in str(info)


def test_the_total_standard_time_adds_days_and_says_how_many_main_path_steps_have_none():
    path = ROOT / "bpmn" / "sop_004_yankomas.bpmn"
    report = services.lint([(str(path), path.read_bytes())])
    assert sorted(w.element for w in report.warnings) == ["Langkah_4a", "Langkah_4b", "Langkah_4c"]
    [info] = report.infos
    assert info.message.endswith("main path 10 steps, standard time 29 d 45 min (3 of its steps have none)")


# --- real editor exports (MIWG interoperability suite) ---------------------------------------------------------------

INTEROP_FILES = sorted(INTEROP.glob("**/*.bpmn"))
CAMUNDA_A = [p for p in INTEROP_FILES if p.parent.name.startswith("bpmn.io") and re.match(r"A\.[1-4]\.0-", p.name)]
CLEAR_REASONS = re.compile(
    r"is in no named lane, so no role can do it"
    r"|message events are not supported yet"
    r"|is saved with isExecutable=\"false\"")


@pytest.mark.skipif(not INTEROP_FILES, reason=f"no MIWG interop files under {INTEROP}")
def test_lint_never_raises_on_real_editor_exports_and_every_problem_names_its_file_and_a_reason():
    for path in INTEROP_FILES:
        for allow in (False, True):
            report = services.lint([(str(path), path.read_bytes())], allow_non_executable=allow)
            assert report.ok == (not report.errors)
            for p in report.problems:
                assert p.file == str(path) and p.severity in ("error", "warning", "info"), p
                assert p.line is None or (isinstance(p.line, int) and p.line > 0), p
                assert p.element is None or (isinstance(p.element, str) and p.element), p
                assert len(p.message.split()) >= 4, p


@pytest.mark.skipif(not INTEROP_FILES, reason=f"no MIWG interop files under {INTEROP}")
def test_every_problem_on_real_editor_exports_is_a_one_line_plain_sentence():
    for path in INTEROP_FILES:
        report = services.lint([(str(path), path.read_bytes())], allow_non_executable=True)
        for p in report.problems:
            assert_plain_sentence(p.message)
            assert " at 0x" not in p.message, p


def test_a_problem_on_an_element_whose_name_has_a_line_break_is_still_one_line():
    filename, data = hostile("service_task.bpmn")
    report = services.lint([(filename, data.replace(b'name="Kirim ke SIMPEG"', b'name="Kirim ke&#10;SIMPEG"'))])
    find(report, 10, "Svc", "service task")
    assert_well_formed(report.problems, filename)


@pytest.mark.skipif(not CAMUNDA_A, reason=f"no Camunda Modeler A.x exports under {INTEROP}")
def test_camunda_modeler_a_series_exports_fail_only_for_clearly_named_reasons():
    assert len(CAMUNDA_A) >= 8, [p.name for p in CAMUNDA_A]
    for path in CAMUNDA_A:
        report = services.lint([(str(path), path.read_bytes())], allow_non_executable=True)
        for problem in report.errors:
            assert CLEAR_REASONS.search(problem.message), f"{path.name}: unclear reason: {problem}"
            assert problem.line and problem.element, problem
