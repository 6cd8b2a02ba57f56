"""The pages read grants, offices, lane roles and the SOP lists through per-process caches, checked against marks
the session query reads first thing in every request (adapters.directory.CacheMarks): a change made by another
process (another Alur on the same database here) shows on that process's very next page, and an unchanged
directory costs the pages no directory query."""

from __future__ import annotations

import pytest

from engine import services, versions
from engine.permissions import OPERATOR
from tests.conftest import add_user, fixture_file
from tests.integration import test_directory_cache
from tests.web.conftest import TEST_CONFIG
from tests.web.helpers import Browser, text
from webui import create_app

PASSWORD = "rahasia123"
two = test_directory_cache.two  # the fixture: two Alurs on one database, `web` and `admin`


@pytest.fixture
def pages(two, tmp_path):
    """The two Alurs of the directory cache's tests (`web`, `admin`), a Flask app on `web` and ana's browser."""
    web, admin = two
    add_user(admin, "ana", ("Klien", "T"), password=PASSWORD)
    flask = create_app({**TEST_CONFIG, "ATTACHMENTS_DIR": str(tmp_path / "files")}, alur=web)
    browser = Browser(flask.test_client())
    assert browser.login("ana", PASSWORD).status_code == 302
    return web, admin, browser


def _startable(browser) -> bool:
    page = text(browser.get("/layanan"))
    return "/layanan/two_steps" in page


def test_an_unchanged_directory_is_read_from_the_cache(pages):
    web, _, browser = pages
    assert _startable(browser)
    cache = web.uow.directory
    misses, hits = cache.misses, cache.hits
    assert _startable(browser)
    assert browser.get("/layanan/two_steps").status_code == 200
    assert cache.misses == misses and cache.hits > hits  # grants, offices and lane roles: no query


def test_a_grant_revoked_and_given_again_elsewhere_shows_on_the_next_page(pages):
    _, admin, browser = pages
    assert _startable(browser)
    with admin.uow() as uow:
        uow.directory.revoke("ana", "Klien", "T")
        uow.commit()
    assert not _startable(browser)
    assert browser.get("/layanan/two_steps").status_code == 404
    with admin.uow() as uow:
        uow.directory.grant("ana", "Klien", "T")
        uow.commit()
    assert _startable(browser)


def test_a_start_lane_given_to_another_role_elsewhere_shows_on_the_next_page(pages):
    _, admin, browser = pages
    assert _startable(browser)
    with admin.uow() as uow:
        uow.directory.set_lane_role("two_steps", "Klien", "Penelaah")
        uow.commit()
    assert not _startable(browser)


def test_an_sop_deployed_retired_and_restored_elsewhere_shows_on_the_next_page(pages):
    _, admin, browser = pages
    assert 'value="call_main"' not in text(browser.get("/tugas"))
    services.deploy(admin.uow(), [fixture_file("call_main.bpmn"), fixture_file("call_sub.bpmn")], office="T")
    assert 'value="call_main"' in text(browser.get("/tugas"))  # the inbox's SOP filter

    assert _startable(browser)
    versions.retire(admin.uow(), "two_steps", 1, actor=OPERATOR)
    assert not _startable(browser)
    versions.restore(admin.uow(), "two_steps", 1, actor=OPERATOR)
    assert _startable(browser)  # the cached copy of version 1 was read while it was retired


def test_a_new_version_elsewhere_is_the_one_cases_start_on(pages):
    _, admin, browser = pages
    assert "Version 1" in text(browser.get("/layanan"))
    renamed = fixture_file("two_steps_timer.bpmn")
    renamed = (renamed[0], renamed[1].replace(b'name="1. A"', b'name="1. A baru"'))
    services.deploy(admin.uow(), [renamed], office="T")
    page = text(browser.get("/layanan"))
    assert "Version 2" in page and "Version 1" not in page
