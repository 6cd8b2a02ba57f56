"""Case administration: the admin case list, and suspending, resuming or cancelling a case with a reason."""

from __future__ import annotations

import re

import pytest

from tests.web.helpers import SOP000, SOP003, events, field_error, flashes, location, text


@pytest.fixture
def case(site):
    return site.start(SOP000, "klien.malut")


def case_rows(page: str) -> list[str]:
    return re.findall(r'<tr data-case="(\d+)">', page)


def test_an_office_admin_suspends_resumes_and_cancels_a_case_and_each_appears_in_its_history(site, case):
    browser = site.browser(site.user(("admin", "MALUT")))
    page = text(browser.get(f"/kasus/{case.id}"))
    assert f'action="/kasus/{case.id}/tangguhkan"' in page
    response = browser.post(f"/kasus/{case.id}/tangguhkan", {"reason": "Menunggu berkas asli"})
    assert location(response) == f"/kasus/{case.id}"
    assert site.instance(case.id).status == "suspended"
    page = text(browser.get(f"/kasus/{case.id}"))
    assert any("suspended" in m for m in flashes(page, "success"))
    assert f'formaction="/kasus/{case.id}/lanjutkan"' in page and "/tangguhkan" not in page
    browser.post(f"/kasus/{case.id}/lanjutkan", {"reason": "Berkas lengkap"})
    assert site.instance(case.id).status == "running"
    browser.post(f"/kasus/{case.id}/batalkan", {"reason": "Pemohon menarik permohonan"})
    assert site.instance(case.id).status == "cancelled"
    page = text(browser.get(f"/kasus/{case.id}"))
    for kind in ("instance_suspended", "instance_resumed", "instance_cancelled"):
        assert len(events(page, kind)) == 1, kind
    assert 'id="case-admin"' not in page, "a cancelled case has nothing left to administer"
    reasons = [e.data.get("reason") for e in site.history(case.id) if e.type.startswith("instance_") and e.data]
    assert {"Menunggu berkas asli", "Berkas lengkap", "Pemohon menarik permohonan"} <= set(reasons)


def test_an_empty_reason_is_asked_for_at_its_field_and_nothing_changes(site, case):
    response = site.browser("admin").post(f"/kasus/{case.id}/tangguhkan", {"reason": "   "})
    page = text(response)
    assert response.status_code == 400
    assert field_error(page, "reason") == "This field is required."
    assert case.number in page, "the case page is shown again"
    assert site.instance(case.id).status == "running"


def test_a_suspended_case_cannot_be_suspended_again(site, case):
    browser = site.browser("admin")
    browser.post(f"/kasus/{case.id}/tangguhkan", {"reason": "satu"})
    response = browser.post(f"/kasus/{case.id}/tangguhkan", {"reason": "dua"})
    assert response.status_code == 409
    assert len([e for e in site.history(case.id) if e.type == "instance_suspended"]) == 1


def test_the_admin_of_another_office_and_a_lane_holder_may_not_touch_the_case(site, case):
    for who, status in ((site.user(("admin", "DKI")), 404), ("klien.malut", 403), (site.user(("analyst", None)), 403)):
        response = site.browser(who).post(f"/kasus/{case.id}/batalkan", {"reason": "tidak boleh"})
        assert response.status_code == status, who  # another office: as for a case that does not exist
    assert site.instance(case.id).status == "running"
    assert 'id="case-admin"' not in text(site.browser("klien.malut").get(f"/kasus/{case.id}"))


def test_the_case_list_shows_only_the_cases_of_the_offices_the_user_administers(site):
    malut, babel = site.start(SOP000, "klien.malut"), site.start(SOP003, "pelapor.babel")
    page = text(site.browser(site.user(("admin", "MALUT"))).get("/kelola/kasus"))
    assert str(malut.id) in case_rows(page) and str(babel.id) not in case_rows(page)
    assert f'<a href="/kasus/{malut.id}">{malut.number}</a>' in page
    page = text(site.browser("admin").get("/kelola/kasus"))
    assert {str(malut.id), str(babel.id)} <= set(case_rows(page))


def test_the_case_list_filters_by_sop_status_and_office(site):
    running, cancelled = site.start(SOP000, "klien.malut"), site.start(SOP000, "klien.malut")
    other = site.start(SOP003, "pelapor.babel")
    browser = site.browser("admin")
    browser.post(f"/kasus/{cancelled.id}/batalkan", {"reason": "dobel"})
    rows = case_rows(text(browser.get(f"/kelola/kasus?sop={SOP000}&status=cancelled")))
    assert str(cancelled.id) in rows and str(running.id) not in rows and str(other.id) not in rows
    rows = case_rows(text(browser.get("/kelola/kasus?office=BABEL")))
    assert str(other.id) in rows and str(running.id) not in rows
    rows = case_rows(text(browser.get("/kelola/kasus?status=nonsense")))
    assert {str(running.id), str(cancelled.id), str(other.id)} <= set(rows)
