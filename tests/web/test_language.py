"""Choosing the language: Bahasa Indonesia by default, English on request, remembered for the account."""

from __future__ import annotations

import pytest

from tests.web.helpers import csrf_token, location, sneaky_targets, text

ENGLISH, INDONESIAN = "My tasks", "Tugas Saya"


def inbox_language(browser) -> str:
    page = text(browser.get("/tugas"))
    if ENGLISH in page:
        return "en"
    assert INDONESIAN in page
    return "id"


def test_the_ui_is_indonesian_by_default(site):
    browser = site.browser(site.user(("Klien", "MALUT")), lang=None)
    page = text(browser.get("/tugas"))
    assert '<html lang="id">' in page
    assert INDONESIAN in page and ENGLISH not in page


def test_the_login_page_is_indonesian_by_default(site):
    page = text(site.browser(lang=None).get("/masuk"))
    assert '<html lang="id">' in page
    assert "Masuk" in page


def test_choosing_english_switches_the_ui_and_indonesian_switches_it_back(site):
    browser = site.browser(site.user(("Klien", "MALUT")), lang=None)
    response = browser.post("/bahasa", {"lang": "en", "next": "/tugas"})
    assert response.status_code == 302
    assert location(response) == "/tugas"
    page = text(browser.get("/tugas"))
    assert '<html lang="en">' in page and ENGLISH in page and INDONESIAN not in page
    browser.post("/bahasa", {"lang": "id", "next": "/tugas"})
    assert inbox_language(browser) == "id"


def test_the_choice_is_remembered_for_the_account_on_its_next_login(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username, lang=None)
    browser.post("/bahasa", {"lang": "en", "next": "/tugas"})
    assert site.language_of(username) == "en"
    assert inbox_language(site.browser(username, lang=None)) == "en"


def test_the_language_survives_logging_out(site):
    browser = site.browser(site.user(("Klien", "MALUT")), lang=None)
    browser.post("/bahasa", {"lang": "en", "next": "/tugas"})
    browser.post("/keluar")
    assert '<html lang="en">' in text(browser.get("/masuk"))


def test_a_visitor_may_choose_the_language_before_logging_in(site):
    browser = site.browser(lang=None)
    token = csrf_token(text(browser.get("/masuk")))
    response = browser.post("/bahasa", {"lang": "en", "next": "/masuk", "csrf_token": token})
    assert location(response) == "/masuk"
    page = text(browser.get("/masuk"))
    assert '<html lang="en">' in page and "Log in" in page
    assert browser.login("klien.malut").status_code == 302
    assert inbox_language(browser) == "en"


@pytest.mark.parametrize("lang", ["fr", "", "../en", "EN"])
def test_an_unknown_language_is_ignored(site, lang):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username, lang=None)
    assert browser.post("/bahasa", {"lang": lang, "next": "/tugas"}).status_code == 302
    assert inbox_language(browser) == "id"
    assert site.language_of(username) is None


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com", None,
                                    *sneaky_targets("webui/auth.py language() via _safe_next (lines 150, 122)")])
def test_choosing_a_language_never_redirects_off_the_site(site, target):
    browser = site.browser("klien.malut", lang=None)
    data = {"lang": "en"} if target is None else {"lang": "en", "next": target}
    assert location(browser.post("/bahasa", data)) == "/tugas"


def test_the_language_form_returns_to_the_page_it_was_on(site):
    browser = site.browser("klien.malut", lang=None)
    page = text(browser.get("/tugas?show=mine&sort=waiting"))
    assert '<input type="hidden" name="next" value="/tugas?show=mine&amp;sort=waiting">' in page
    response = browser.post("/bahasa", {"lang": "en", "next": "/tugas?show=mine&sort=waiting"})
    assert location(response) == "/tugas?show=mine&sort=waiting"
