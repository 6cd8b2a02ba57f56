"""Every state-changing request needs the CSRF token of the session: without it, 400 and nothing changes."""

from __future__ import annotations

import io

import pytest

from tests.web.helpers import PASSWORD, SOP000, is_error_page, text


@pytest.fixture
def case(site):
    """A fresh SOP 000 case whose first step waits for the Klien of MALUT."""
    instance = site.start(SOP000, "klien.malut")
    return instance, site.only_ready(instance.id)


def assert_refused(response):
    assert response.status_code == 400
    assert is_error_page(text(response))


@pytest.mark.parametrize("token", [None, "", "not-a-token"], ids=["missing", "empty", "forged"])
def test_completing_a_step_without_a_valid_token_is_refused_and_the_step_stays_ready(site, case, token):
    instance, item = case
    browser = site.browser("klien.malut")
    data = {"catatan": "hadir", "keluaran": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "tamu.pdf")}
    if token is not None:
        data["csrf_token"] = token
    assert_refused(browser.upload(f"/tugas/{item.id}", data, csrf=False))
    assert site.item(item.id).state == "ready"
    assert site.attachments(instance.id) == []
    assert [e.type for e in site.history(instance.id)] == ["instance_started"]


def test_claiming_without_a_token_is_refused_and_the_step_stays_unclaimed(site, case):
    _, item = case
    assert_refused(site.browser("klien.malut").post(f"/tugas/{item.id}/ambil", csrf=False))
    assert site.item(item.id).claimed_by is None


def test_releasing_without_a_token_is_refused_and_the_claim_stays(site, case):
    _, item = case
    site.claim(item.id, "klien.malut")
    assert_refused(site.browser("klien.malut").post(f"/tugas/{item.id}/lepas", csrf=False))
    assert site.item(item.id).claimed_by == "klien.malut"


def test_reassigning_without_a_token_is_refused_and_nobody_gets_the_step(site, case):
    _, item = case
    other = site.user(("Klien", "MALUT"))
    assert_refused(site.browser("admin").post(f"/tugas/{item.id}/alihkan", {"to_user": other}, csrf=False))
    assert site.item(item.id).claimed_by is None


def test_starting_a_service_without_a_token_is_refused_and_no_case_is_created(site):
    before = len(site.instances())
    assert_refused(site.browser("klien.malut").post(f"/layanan/{SOP000}", csrf=False))
    assert len(site.instances()) == before


def test_logging_out_without_a_token_is_refused_and_the_user_stays_logged_in(site):
    browser = site.browser("klien.malut")
    assert_refused(browser.post("/keluar", csrf=False))
    assert browser.logged_in
    assert browser.get("/tugas").status_code == 200


def test_choosing_a_language_without_a_token_is_refused_and_the_language_stays(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username, lang="id")
    assert_refused(browser.post("/bahasa", {"lang": "en", "next": "/tugas"}, csrf=False))
    assert site.language_of(username) is None
    assert '<html lang="id">' in text(browser.get("/tugas"))


def test_logging_in_without_a_token_is_refused(site):
    browser = site.browser()
    response = browser.client.post("/masuk", data={"username": "klien.malut", "password": PASSWORD})
    assert_refused(response)
    assert not browser.logged_in


def test_a_token_of_another_session_is_refused(site, case):
    _, item = case
    foreign = site.browser("klien.malut").token
    browser = site.browser("klien.malut")
    assert_refused(browser.post(f"/tugas/{item.id}/ambil", {"csrf_token": foreign}))
    assert site.item(item.id).claimed_by is None
