"""Drafts of the modeler: the template, copies of deployed versions, optimistic saves, lint and deploy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import drafts, services
from engine.errors import AlurError, DiagramInvalid, FormInvalid, NotFound, NotPermitted, StaleInstance
from tests.conftest import add_user, fixture_file

HOSTILE = b"""<?xml version="1.0"?>
<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="p" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def people(app):
    add_user(app, "ana", ("analyst", None))
    add_user(app, "dedi", ("analyst", None), ("deployer", None))
    add_user(app, "klien", ("Klien", "T"))
    return app


def test_a_new_sop_from_the_template_lints_clean_and_deploys_as_version_one(people):
    app = people
    draft = drafts.create(app.uow(), actor="ana", name="Layanan Uji Coba")
    assert draft.key == "sop_layanan_uji_coba" and draft.row_version == 1
    report = drafts.check(app.uow(), draft.id, actor="ana")
    assert report.errors == [], [str(p) for p in report.problems]
    [info] = report.processes
    assert [(s.id, s.lane, s.sla) for s in info.steps] == [("Langkah_1", "Petugas", "PT1H")]
    assert info.lanes == [("Lane_Pemohon", "Pemohon"), ("Lane_Petugas", "Petugas")]

    result = drafts.deploy(app.uow, draft.id, actor="dedi", note="Versi pertama")
    assert (result.key, result.version, result.created) == ("sop_layanan_uji_coba", 1, True)
    assert drafts.get(app.uow(), draft.id, actor="ana").deployed_version == 1
    with app.uow(write=False) as uow:
        deployment = uow.deployments.latest(draft.key)
        assert (deployment.note, deployment.deployed_by) == ("Versi pertama", "dedi")
        assert [e.type for e in uow.audit.all()][-1] == "deployment_created"


def test_a_second_sop_of_the_same_name_gets_its_own_key(people):
    first = drafts.create(people.uow(), actor="ana", name="Izin Keramaian")
    second = drafts.create(people.uow(), actor="ana", name="  Izin   Keramaian ")
    assert (first.key, second.key) == ("sop_izin_keramaian", "sop_izin_keramaian_2")
    assert second.name == "Izin Keramaian"
    with pytest.raises(FormInvalid, match="name"):
        drafts.create(people.uow(), actor="ana", name="   ")


def test_a_draft_from_a_deployed_version_holds_its_diagram(people):
    app = people
    filename, data = fixture_file("two_steps_timer.bpmn")
    services.deploy(app.uow(), [(filename, data)], actor="dedi", office="T")
    draft = drafts.create_from_version(app.uow(), "two_steps", 1, actor="ana")
    assert (draft.key, draft.based_on_key, draft.based_on_version) == ("two_steps", "two_steps", 1)
    assert drafts.get(app.uow(), draft.id, actor="ana").xml == data
    listed = drafts.list_drafts(app.uow(), actor="ana")
    assert [d.id for d in listed] == [draft.id] and listed[0].xml == b""
    assert ("two_steps", 1) in [(s.key, s.version) for s in drafts.sources(app.uow(), actor="ana")]
    with pytest.raises(NotFound):
        drafts.create_from_version(app.uow(), "two_steps", 9, actor="ana")


def test_a_stale_save_is_refused_and_the_stored_draft_stays_as_it_was(people):
    app = people
    draft = drafts.create(app.uow(), actor="ana", name="Balapan")
    moment = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    mine = drafts.template_xml(draft.key, "Versi Ana")
    saved = drafts.save(app.uow(), draft.id, mine.decode(), 1, actor="ana", clock=lambda: moment)
    assert saved.row_version == 2
    with pytest.raises(StaleInstance, match=r"ana saved this draft at 2026-03-02 08:30 UTC.*not saved"):
        drafts.save(app.uow(), draft.id, drafts.template_xml(draft.key, "Versi Dedi"), 1, actor="dedi")
    stored = drafts.get(app.uow(), draft.id, actor="dedi")
    assert (stored.xml, stored.row_version, stored.updated_by) == (mine, 2, "ana")


def test_saving_keeps_the_process_id_as_the_key_and_refuses_oversized_or_empty_diagrams(people):
    app = people
    draft = drafts.create(app.uow(), actor="ana", name="Kunci")
    renamed = drafts.save(app.uow(), draft.id, drafts.template_xml("sop_kunci_baru", "Kunci"), 1, actor="ana")
    assert renamed.key == "sop_kunci_baru"
    broken = drafts.save(app.uow(), draft.id, b"<bpmn:definitions", 2, actor="ana")
    assert broken.key == "sop_kunci_baru"  # an unreadable diagram keeps the key it had
    with pytest.raises(AlurError, match="larger than 5 MB"):
        drafts.save(app.uow(), draft.id, b"<a>" + b" " * drafts.MAX_BYTES + b"</a>", 3, actor="ana")
    with pytest.raises(AlurError, match="empty"):
        drafts.save(app.uow(), draft.id, "  ", 3, actor="ana")
    assert drafts.get(app.uow(), draft.id, actor="ana").row_version == 3


def test_a_hostile_draft_is_reported_by_lint_and_cannot_be_deployed(people):
    app = people
    draft = drafts.create(app.uow(), actor="ana", name="Jahat")
    drafts.save(app.uow(), draft.id, HOSTILE, 1, actor="ana")
    report = drafts.check(app.uow(), draft.id, actor="ana")
    assert [(p.line, p.message) for p in report.errors] == [
        (2, "DOCTYPE and entity declarations are not allowed in a diagram")]
    with pytest.raises(DiagramInvalid):
        drafts.deploy(app.uow, draft.id, actor="dedi", note="coba")
    assert drafts.get(app.uow(), draft.id, actor="ana").deployed_version is None
    with app.uow(write=False) as uow:
        assert uow.deployments.latest("p") is None


def test_lint_of_what_the_editor_holds_stores_nothing(people):
    app = people
    draft = drafts.create(app.uow(), actor="ana", name="Periksa")
    report = drafts.check(app.uow(), draft.id, actor="ana", data="<bpmn:definitions")
    assert report.errors and "not well-formed" in report.errors[0].message
    assert drafts.get(app.uow(), draft.id, actor="ana").row_version == 1


def test_only_modelers_see_drafts_and_only_deployers_deploy(people):
    app = people
    with pytest.raises(NotPermitted, match="analyst, deployer or admin"):
        drafts.list_drafts(app.uow(), actor="klien")
    with pytest.raises(NotPermitted):
        drafts.create(app.uow(), actor="klien", name="Tidak boleh")
    draft = drafts.create(app.uow(), actor="ana", name="Hak")
    with pytest.raises(NotPermitted):
        drafts.get(app.uow(), draft.id, actor="klien")
    with pytest.raises(NotPermitted, match="deployer or admin"):
        drafts.deploy(app.uow, draft.id, actor="ana", note="coba")
    with pytest.raises(FormInvalid, match="change note"):
        drafts.deploy(app.uow, draft.id, actor="dedi", note="  ")
    with pytest.raises(StaleInstance):
        drafts.deploy(app.uow, draft.id, actor="dedi", note="coba", row_version=7)
    with app.uow(write=False) as uow:
        assert uow.deployments.latest(draft.key) is None


def test_deploying_again_unchanged_makes_no_new_version_and_a_newer_version_is_warned_about(people):
    app = people
    draft = drafts.create(app.uow(), actor="ana", name="Ulang")
    assert drafts.deploy(app.uow, draft.id, actor="dedi", note="v1").version == 1
    again = drafts.deploy(app.uow, draft.id, actor="dedi", note="v1 lagi")
    assert (again.version, again.created) == (1, False)

    old = drafts.create_from_version(app.uow(), draft.key, 1, actor="ana")
    changed = drafts.template_xml(draft.key, "Ulang").replace(b"PT1H", b"PT2H")
    drafts.save(app.uow(), draft.id, changed, 1, actor="ana")
    assert drafts.deploy(app.uow, draft.id, actor="dedi", note="waktu baku 2 jam").version == 2
    warnings = [p.message for p in drafts.check(app.uow(), old.id, actor="ana").warnings]
    assert any("starts from version 1" in w and "version 2 was deployed since" in w for w in warnings), warnings


def test_a_draft_can_be_thrown_away(people):
    app = people
    draft = drafts.create(app.uow(), actor="ana", name="Buang")
    drafts.delete(app.uow(), draft.id, actor="ana")
    with pytest.raises(NotFound):
        drafts.get(app.uow(), draft.id, actor="ana")


def test_a_deployed_diagram_in_another_encoding_opens_as_text(people):
    app = people
    data = drafts.template_xml("sop_latin", "Pengaduan Café").decode().replace(
        'encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("iso-8859-1")
    services.deploy(app.uow(), [("latin.bpmn", data)], actor="dedi", office="T")
    draft = drafts.create_from_version(app.uow(), "sop_latin", 1, actor="ana")
    assert 'name="Pengaduan Café"' in drafts.get(app.uow(), draft.id, actor="ana").text
