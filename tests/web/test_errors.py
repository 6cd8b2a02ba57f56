"""Error pages never leak internals, and only bpmn-js's viewer and modeler files leave node_modules."""

from __future__ import annotations

import io
import logging

import pytest

from engine import casefile
from tests.web.helpers import SOP000, is_error_page, text

SECRET = "psycopg: relation instances_x at /srv/alur/engine.py line 42"


def test_an_unexpected_error_shows_a_500_page_without_traceback_or_the_exception_text(site, monkeypatch, caplog):
    case = site.start(SOP000, "klien.malut")

    def broken(*args, **kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(casefile, "case_view", broken)
    with caplog.at_level(logging.ERROR, logger="alur.web"):
        response = site.browser("klien.malut").get(f"/kasus/{case.id}")
    page = text(response)
    assert response.status_code == 500
    assert is_error_page(page)
    assert "Traceback" not in page and SECRET not in page and "RuntimeError" not in page
    assert any(SECRET in (r.exc_text or "") or r.exc_info for r in caplog.records), "the operator sees the error"


def test_an_unexpected_error_while_completing_a_step_changes_nothing(site, monkeypatch):
    case = site.start(SOP000, "klien.malut")
    item = site.only_ready(case.id)

    def broken(*args, **kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr("engine.runtime.complete", broken)
    before = site.stored_files()
    response = site.browser("klien.malut").upload(
        f"/tugas/{item.id}", {"catatan": "x", "keluaran": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "tamu.pdf")})
    assert response.status_code == 500
    assert SECRET not in text(response)
    assert site.item(item.id).state == "ready"
    assert site.attachments(case.id) == []
    assert site.stored_files() == before


def test_an_unknown_address_is_a_404_page(site):
    response = site.browser("klien.malut").get("/tidak-ada")
    assert response.status_code == 404
    assert is_error_page(text(response))


def test_a_wrong_method_is_a_405_page(site):
    response = site.browser("klien.malut").get("/keluar")
    assert response.status_code == 405
    assert is_error_page(text(response))


def test_an_error_page_of_the_engine_explains_itself_and_links_back_to_the_inbox(site):
    case = site.start(SOP000, "klien.malut")
    item = site.only_ready(case.id)
    site.complete(item.id, "klien.malut")
    response = site.browser("klien.malut").upload(f"/tugas/{item.id}", {})
    page = text(response)
    assert response.status_code == 409
    assert is_error_page(page)
    assert '<a href="/tugas">' in page.split("error-page", 1)[1]


def test_a_403_page_names_neither_the_case_nor_its_office(site):
    case = site.start(SOP000, "klien.malut")
    response = site.browser(site.user(("Pemohon", "MALUT"))).get(f"/kasus/{case.id}")
    page = text(response)
    assert response.status_code == 403
    assert is_error_page(page)
    assert case.number not in page and "MALUT" not in page


@pytest.mark.parametrize("path", ["dist/bpmn-navigated-viewer.production.min.js", "dist/assets/bpmn-js.css",
                                  "dist/assets/diagram-js.css"])
def test_the_viewer_files_of_bpmn_js_are_served_without_login(site, path):
    response = site.browser().get(f"/vendor/bpmn-js/{path}")
    assert response.status_code == 200
    assert len(response.data) > 1000
    assert "max-age" in response.headers.get("Cache-Control", "")
    response.close()


@pytest.mark.parametrize("path", [
    "/vendor/bpmn-js/../package.json",
    "/vendor/bpmn-js/dist/assets/../../package.json",
    "/vendor/bpmn-js/dist/assets/..%2F..%2Fpackage.json",
    "/vendor/bpmn-js/package.json",
    "/vendor/bpmn-js/dist/bpmn-modeler.development.js",  # the modeler page loads the production build only
    "/vendor/bpmn-js/dist/assets/no-such-file.css",
    "/vendor/other/x",
    "/vendor/diagram-js/package.json",
    "/vendor/bpmn-js/",
])
def test_nothing_else_leaves_node_modules(site, path):
    response = site.browser().get(path)
    assert response.status_code == 404
    assert b'"name"' not in response.data


NUL_500 = ("BUG (PostgreSQL only): a NUL character in a request value reaches a query unchecked; psycopg refuses it "
           "(DataError: PostgreSQL text fields cannot contain NUL (0x00) bytes) and the page is a 500, where SQLite "
           "answers 401/200/404. Reject NUL in the web layer (400) or treat it as 'not found'.")


@pytest.mark.parametrize(("method", "path", "form", "expected"), [
    ("post", "/masuk", {"username": "klien\x00malut", "password": "x"}, 401),
    ("get", "/tugas?sop=sop%00000", None, 200),
    ("get", "/tugas/abc%00def", None, 404),
    ("get", "/lampiran/abc%00def", None, 404),
    ("get", "/layanan/sop%00000", None, 404),
], ids=["login", "inbox-filter", "task", "attachment", "start"])
def test_a_nul_character_in_a_request_is_never_a_500(site, request, method, path, form, expected):
    if path == "/masuk":
        response = site.browser().login(form["username"], form["password"])
    else:
        response = site.browser("klien.malut").get(path)
    assert response.status_code in (expected, 400)


def test_a_nul_character_in_entered_text_is_dropped_before_it_is_stored(site):
    case = site.start(SOP000, "klien.malut")
    item = site.only_ready(case.id)
    response = site.browser("klien.malut").upload(f"/tugas/{item.id}", {"catatan": "a\x00b"})
    assert response.status_code == 302
    assert site.history(case.id)[-1].data["data"]["catatan"] == "ab"
