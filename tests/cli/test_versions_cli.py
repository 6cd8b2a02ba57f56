"""`alur versions | diff | migrate | retire`, run as the real executable on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from engine import services
from tests.cli.test_cli import Cli, assert_refused
from tests.conftest import add_office, add_user
from tests.integration.test_migration import KEY, LANE_USERS, SOP, renamed, with_standard_time, without_step

STEP_2 = "2. Memerintahkan Kadivmin menindaklanjuti"


@pytest.fixture
def cli(app, database_url, tmp_path) -> Cli:
    """Office BABEL with a user per lane of SOP 003, a deployer, a global admin; version 1 deployed."""
    add_office(app, "BABEL", "Kanwil Kepulauan Bangka Belitung")
    for lane, user in LANE_USERS.items():
        add_user(app, user, (lane, "BABEL"))
    add_user(app, "penerap", ("deployer", None))
    add_user(app, "admin", ("admin", None))
    runner = Cli(database_url, tmp_path / "data")
    assert f"{KEY} deployed as version 1" in runner.ok("deploy", str(SOP), "--as", "penerap", "--note", "SOP asli")
    return runner


def write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def case_at_step_2(app):
    case = services.start(app.uow(), KEY, actor="pelapor")
    [item] = services.show(app.uow(write=False), case.id)["work_items"]
    services.complete(app.uow(), item.id, actor="pelapor")
    return case


def test_versions_shows_each_version_with_its_note_cases_and_which_one_new_cases_use(cli, app, tmp_path):
    services.start(app.uow(), KEY, actor="pelapor")
    v2 = write(tmp_path, SOP.name, renamed(SOP.read_bytes(), "Langkah_2", "2. Menugaskan Kadiv"))
    deployed = cli.ok("deploy", v2, "--as", "penerap", "--note", "langkah 2 dinamai ulang")
    assert f"{KEY} deployed as version 2" in deployed
    assert "version 1 is retired" in cli.ok("retire", KEY, "1", "--as", "penerap", "--reason", "diganti")

    table, listed = cli.all_ok(("versions", KEY), ("versions", KEY, "--json"))
    lines = table.splitlines()
    assert lines[0] == f"{KEY}: Layanan Pengaduan Masyarakat"
    assert lines[1].split() == ["VERSION", "DEPLOYED", "BY", "RUNNING", "CASES", "STATUS", "NOTE"]
    assert lines[2].startswith("v2 ") and "current" in lines[2] and lines[2].endswith("langkah 2 dinamai ulang")
    assert lines[3].startswith("v1 ") and "retired" in lines[3] and "by penerap" in lines[3]
    assert [(v["version"], v["running"], v["cases"], v["current"], v["note"]) for v in json.loads(listed)] == [
        (2, 0, 0, True, "langkah 2 dinamai ulang"), (1, 1, 1, False, "SOP asli")]

    said = cli.fails("start", KEY, "--version", "1", "--as", "pelapor", says="Version 1 of")
    assert "new cases start on version 2" in said.err
    assert "Every version is retired" not in table
    assert "every version is retired" in cli.ok("retire", KEY, "2")  # the operator needs no --as
    cli.fails("start", KEY, "--as", "pelapor", says=f"Every version of '{KEY}' is retired")
    assert "new cases start on version 2" in cli.ok("retire", KEY, "2", "--restore", "--as", "penerap")


def test_diff_lists_the_changes_between_two_versions_in_words_and_as_json(cli, tmp_path):
    data = with_standard_time(renamed(without_step(SOP.read_bytes(), "Langkah_5"), "Langkah_2", "2. Menugaskan Kadiv"),
                              "Langkah_3", "PT25M")
    cli.ok("deploy", write(tmp_path, SOP.name, data), "--as", "penerap")
    words, as_json = cli.all_ok(("diff", KEY, "1", "2"), ("diff", KEY, "1", "2", "--json"))
    assert words.splitlines()[0] == f"{KEY}: version 1 → version 2"
    assert "Steps removed:\n  - Langkah_5  '5. Menelaah dan memeriksa kelengkapan laporan'  [Kasubag PPHTI]" in words
    assert f"~ Langkah_2  name '{STEP_2}' → '2. Menugaskan Kadiv'" in words
    assert "~ Langkah_3  standard time PT15M → PT25M" in words
    assert words.rstrip().endswith("Main path standard time: PT4H50M → PT4H")
    parsed = json.loads(as_json)
    assert [s["id"] for s in parsed["steps_removed"]] == ["Langkah_5"] and parsed["new_total"] == "PT4H"
    assert "No differences" in cli.ok("diff", KEY, "2", "2")


def test_migrate_lists_movable_and_blocked_cases_and_moves_the_movable_ones(cli, app, tmp_path):
    waiting = case_at_step_2(app)
    early = services.start(app.uow(), KEY, actor="pelapor")
    cli.ok("deploy", write(tmp_path, SOP.name, without_step(SOP.read_bytes(), "Langkah_2")), "--as", "penerap")

    dry = cli.run("migrate", KEY, "--from", "1", "--to", "2", "--dry-run", "--as", "admin")
    assert dry.code == 1 and "Traceback" not in dry.err, str(dry)
    lines = dry.out.splitlines()
    assert lines[0] == (f"{KEY}: version 1 → version 2: 1 case(s) can move, 1 blocked  "
                        "(dry run: nothing was changed)")
    assert lines[1] == (f"  blocked   {waiting.number} (id {waiting.id}): Step '{STEP_2}' (Langkah_2), where the case "
                        "is now, is not in version 2.")
    assert lines[2] == f"  can move  {early.number} (id {early.id})"
    assert [i["version"] for i in cli.json("instances")] == [1, 1]

    done = cli.run("migrate", KEY, "--from", "1", "--to", "2", "--actor", "admin")
    assert done.code == 1 and f"  moved     {early.number} (id {early.id})" in done.out, str(done)
    assert {i["id"]: i["version"] for i in cli.json("instances")} == {waiting.id: 1, early.id: 2}
    history = cli.json("show", str(early.id))["history"]
    assert history[-1]["type"] == "instance_migrated" and history[-1]["actor"] == "admin"


def test_every_refusal_is_one_line_without_a_traceback(cli, tmp_path):
    cli.ok("deploy", write(tmp_path, SOP.name, renamed(SOP.read_bytes(), "Langkah_2", "2. Baru")), "--as", "penerap")
    expectations = [
        (("versions", "tidak_ada"), "No deployed process 'tidak_ada'"),
        (("diff", KEY, "1", "9"), f"No version 9 of '{KEY}'"),
        (("migrate", KEY, "--from", "1", "--to", "2", "--as", "penerap"), "of every office may do this"),
        (("migrate", KEY, "--from", "2", "--to", "2", "--as", "admin"), "Choose two different versions"),
        (("retire", KEY, "1", "--as", "kakanwil"), "Only a deployer or an admin may do this"),
        (("retire", KEY, "5", "--as", "penerap"), f"No version 5 of '{KEY}'"),
        (("versions", KEY, "--as", "kakanwil"), "Only analysts, deployers and administrators"),
    ]
    for (_, says), result in zip(expectations, cli.many(*(args for args, _ in expectations)), strict=True):
        assert_refused(result, says)
