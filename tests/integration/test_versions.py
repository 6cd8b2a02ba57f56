"""Versions of a process: which one new cases start on, retiring and restoring, their files, and what changed."""

from __future__ import annotations

import pytest

from engine import casefile, services, versions
from engine.errors import NotFound, NotPermitted
from tests.conftest import add_user, fixture_file
from tests.integration.test_migration import KEY, SOP, renamed, with_standard_time, without_step


@pytest.fixture
def people(app):
    """Case workers of review_loop in office T, plus a deployer, an analyst and a global admin."""
    add_user(app, "pel", ("Pelaksana", "T"))
    add_user(app, "kas", ("Kasubbag", "T"))
    add_user(app, "penerap", ("deployer", None))
    add_user(app, "analis", ("analyst", None))
    add_user(app, "admin", ("admin", None))
    return app


def two_versions(app, note="revisi"):
    """review_loop v1 as in the fixture, v2 with its first step renamed."""
    name, data = fixture_file("decision_loop.bpmn")
    services.deploy(app.uow(), [(name, data)], actor="penerap", office="T", note="awal")
    services.deploy(app.uow(), [(name, data.replace(b"1. Menyusun draft", b"1. Menyusun konsep"))],
                    actor="penerap", office="T", note=note)


def startable_versions(app, user):
    return {s.deployment.key: s.deployment.version for s in casefile.startable(app.uow(write=False), viewer=user)}


# --- which version new cases use ----------------------------------------------------------------------------------

def test_new_cases_start_on_the_newest_version_that_is_not_retired(people):
    app = people
    two_versions(app)
    assert services.start(app.uow(), "review_loop", actor="pel").version == 2
    versions.retire(app.uow(), "review_loop", 2, actor="penerap", reason="salah nama langkah")
    assert services.start(app.uow(), "review_loop", actor="pel").version == 1
    assert startable_versions(app, "pel") == {"review_loop": 1}
    versions.restore(app.uow(), "review_loop", 2, actor="penerap")
    assert services.start(app.uow(), "review_loop", actor="pel").version == 2
    assert startable_versions(app, "pel") == {"review_loop": 2}


def test_a_version_restored_after_this_process_read_it_retired_takes_new_cases_again(people):
    """The version's content is read once per process: a copy read while it was retired (here: a step of one of
    its running cases) must not keep new cases off it once it is restored."""
    app = people
    two_versions(app)
    case = services.start(app.uow(), "review_loop", actor="pel")
    versions.retire(app.uow(), "review_loop", 2, actor="penerap")
    app.uow.deployments.clear()
    [draft] = services.show(app.uow(write=False), case.id)["work_items"]
    services.complete(app.uow(), draft.id, actor="pel")  # reads version 2, retired, into the process's cache
    assert app.uow.deployments[case.deployment_id].retired_at is not None
    assert services.start(app.uow(), "review_loop", actor="pel").version == 1
    versions.restore(app.uow(), "review_loop", 2, actor="penerap")
    restarted = services.start(app.uow(), "review_loop", actor="pel")
    assert (restarted.version, restarted.deployment_id) == (2, case.deployment_id)


def test_starting_a_retired_version_by_number_is_refused_and_names_the_current_one(people):
    app = people
    two_versions(app)
    versions.retire(app.uow(), "review_loop", 1, actor="penerap")
    with pytest.raises(NotPermitted, match="Version 1 of 'review_loop' is retired; new cases start on version 2"):
        services.start(app.uow(), "review_loop", actor="pel", version=1)
    assert services.start(app.uow(), "review_loop", actor="pel", version=2).version == 2


def test_when_every_version_is_retired_starting_says_so_and_nothing_is_offered(people):
    app = people
    two_versions(app)
    for version in (1, 2):
        versions.retire(app.uow(), "review_loop", version, actor="penerap")
    with pytest.raises(NotPermitted, match="Every version of 'review_loop' is retired"):
        services.start(app.uow(), "review_loop", actor="pel")
    with pytest.raises(NotPermitted, match="is retired, as is every version"):
        services.start(app.uow(), "review_loop", actor="pel", version=2)
    assert startable_versions(app, "pel") == {}


def test_a_running_case_of_a_retired_version_runs_to_its_end(people):
    app = people
    two_versions(app)
    case = services.start(app.uow(), "review_loop", actor="pel", version=1)
    versions.retire(app.uow(), "review_loop", 1, actor="penerap")
    [draft] = services.show(app.uow(write=False), case.id)["work_items"]
    services.complete(app.uow(), draft.id, actor="pel")
    [review] = [w for w in services.show(app.uow(write=False), case.id)["work_items"] if w.state == "ready"]
    services.complete(app.uow(), review.id, actor="kas", data={"keputusan": "Ya"})
    assert services.show(app.uow(write=False), case.id)["instance"].status == "completed"


# --- retiring -----------------------------------------------------------------------------------------------------

def test_retiring_and_restoring_are_audited_once_and_need_a_deployer(people):
    app = people
    two_versions(app)
    for user in ("pel", "analis"):
        with pytest.raises(NotPermitted, match="Only a deployer or an admin may do this"):
            versions.retire(app.uow(), "review_loop", 1, actor=user)
    retired = versions.retire(app.uow(), "review_loop", 1, actor="penerap", reason="diganti v2")
    again = versions.retire(app.uow(), "review_loop", 1, actor="admin")
    assert (retired.retired_by, again.retired_by) == ("penerap", "penerap")
    versions.restore(app.uow(), "review_loop", 1, actor="admin")
    with app.uow(write=False) as uow:
        events = [(e.type, e.actor, e.data) for e in uow.audit.all() if e.type.startswith("deployment_r")]
    assert events == [
        ("deployment_retired", "penerap", {"key": "review_loop", "version": 1, "reason": "diganti v2"}),
        ("deployment_restored", "admin", {"key": "review_loop", "version": 1, "reason": None}),
    ]
    with pytest.raises(NotFound, match="No version 7 of 'review_loop'"):
        versions.retire(app.uow(), "review_loop", 7, actor="penerap")


# --- listing ------------------------------------------------------------------------------------------------------

def test_versions_are_listed_newest_first_with_their_cases_note_and_current_marker(people):
    app = people
    two_versions(app, note="nama langkah 1 diperbaiki")
    old_case = services.start(app.uow(), "review_loop", actor="pel", version=1)
    services.start(app.uow(), "review_loop", actor="pel")
    with app.uow() as uow:
        finished = uow.instances.get(old_case.id)
        finished.status = "completed"
        uow.instances.save(finished)
        uow.commit()
    services.start(app.uow(), "review_loop", actor="pel", version=1)
    infos = versions.list_versions(app.uow(write=False), "review_loop", viewer="analis")
    assert [(i.deployment.version, i.running, i.total, i.is_current) for i in infos] == [(2, 1, 1, True),
                                                                                        (1, 1, 2, False)]
    assert (infos[0].deployment.note, infos[0].deployment.deployed_by) == ("nama langkah 1 diperbaiki", "penerap")
    [summary] = versions.processes(app.uow(write=False), viewer="admin")
    assert (summary.key, summary.current_version, summary.newest_version, summary.versions, summary.running) == (
        "review_loop", 2, 2, 2, 2)
    with pytest.raises(NotFound, match="No deployed process 'tidak_ada'"):
        versions.list_versions(app.uow(write=False), "tidak_ada", viewer="analis")


def test_reading_versions_needs_an_analyst_a_deployer_or_an_admin(people):
    two_versions(people)
    for reader in ("analis", "penerap", "admin"):
        assert len(versions.list_versions(people.uow(write=False), "review_loop", viewer=reader)) == 2
    for call in (lambda: versions.processes(people.uow(write=False), viewer="pel"),
                 lambda: versions.list_versions(people.uow(write=False), "review_loop", viewer="pel"),
                 lambda: versions.version_xml(people.uow(write=False), "review_loop", 1, viewer="pel"),
                 lambda: versions.diff(people.uow(write=False), "review_loop", 1, 2, viewer="pel")):
        with pytest.raises(NotPermitted):
            call()


def test_a_version_gives_back_its_original_bytes_under_its_file_name(people):
    two_versions(people)
    filename, data = versions.version_xml(people.uow(write=False), "review_loop", 1, viewer="analis")
    assert (filename, data) == ("decision_loop.bpmn", fixture_file("decision_loop.bpmn")[1])


# --- several files ------------------------------------------------------------------------------------------------

def test_a_process_calling_another_file_keeps_that_file_and_a_change_there_makes_a_new_version(people):
    app = people
    main, sub = fixture_file("call_main.bpmn"), fixture_file("call_sub.bpmn")
    results, _ = services.deploy(app.uow(), [main, sub], office="T", note="dua berkas")
    assert sorted((d.key, d.version, made) for d, made in results) == [("call_main", 1, True), ("call_sub", 1, True)]
    files = versions.version_files(app.uow(write=False), "call_main", 1, viewer="analis")
    assert files == [("call_main.bpmn", main[1]), ("call_sub.bpmn", sub[1])]
    assert versions.version_files(app.uow(write=False), "call_sub", 1, viewer="analis") == [("call_sub.bpmn",
                                                                                             sub[1])]
    results, _ = services.deploy(app.uow(), [main, sub], office="T")
    assert sorted((d.key, d.version, made) for d, made in results) == [("call_main", 1, False),
                                                                       ("call_sub", 1, False)]
    changed = (sub[0], sub[1].replace(b"PT2H", b"PT3H"))
    results, _ = services.deploy(app.uow(), [main, changed], office="T")
    assert sorted((d.key, d.version, made) for d, made in results) == [("call_main", 2, True), ("call_sub", 2, True)]
    assert versions.version_files(app.uow(write=False), "call_main", 2, viewer="analis")[1] == ("call_sub.bpmn",
                                                                                                 changed[1])


# --- what changed -------------------------------------------------------------------------------------------------

def test_the_diff_of_two_seed_versions_names_steps_added_removed_and_changed_and_the_main_path_time(people):
    app = people
    data = SOP.read_bytes()
    services.deploy(app.uow(), [(SOP.name, data)], office="T")
    v2 = with_standard_time(renamed(without_step(data, "Langkah_5"), "Langkah_2", "2. Menugaskan Kadiv"),
                            "Langkah_3", "PT25M")
    services.deploy(app.uow(), [(SOP.name, v2)], office="T")
    d = versions.diff(app.uow(write=False), KEY, 1, 2, viewer="analis")
    assert [s.id for s in d.steps_removed] == ["Langkah_5"] and d.steps_added == []
    assert [(old.id, new.name, fields) for old, new, fields in d.steps_changed] == [
        ("Langkah_2", "2. Menugaskan Kadiv", ["name"]), ("Langkah_3", "3. Memerintahkan Kabag P2 memproses", ["sla"])]
    assert (d.old_total, d.new_total) == ("PT4H50M", "PT4H")  # 290 min, less step 5 (60 min), step 3 +10 min
    assert (d.lanes_added, d.lanes_removed, d.gateways_added, d.gateways_changed) == ([], [], [], [])
    assert not d.empty and d.as_dict()["steps_changed"][1]["old"]["sla"] == "PT15M"
    assert versions.diff(app.uow(write=False), KEY, 2, 2, viewer="analis").empty


def test_the_diff_names_changed_gateways_and_new_lanes(people):
    app = people
    name, data = fixture_file("decision_loop.bpmn")
    services.deploy(app.uow(), [(name, data)], office="T")
    changed = (data.replace(b'name="Draft sesuai?"', b'name="Draft disetujui?"')
               .replace(b'keputusan == "Tidak"', b'keputusan != "Ya"')
               .replace(b'<bpmn:lane id="Lane_Kasubbag" name="Kasubbag">', b'<bpmn:lane id="Lane_Kasubbag" '
                        b'name="Kepala Subbagian">'))
    services.deploy(app.uow(), [(name, changed)], office="T")
    d = versions.diff(app.uow(write=False), "review_loop", 1, 2, viewer="admin")
    assert d.gateways_changed == [("Decide", "Draft disetujui?", ["name", "paths"])]
    assert (d.lanes_added, d.lanes_removed) == (["Kepala Subbagian"], ["Kasubbag"])
    [(old, new, fields)] = d.steps_changed
    assert (old.id, fields) == ("Review", ["lane", "decision"])
