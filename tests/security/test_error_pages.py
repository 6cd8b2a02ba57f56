"""No response ever shows a stack trace, SQL, a file path or an exception's text: failures forced inside views
(database errors carrying their statement, KeyError, RuntimeError, the database gone) answer the 500 page (in
Bahasa Indonesia by default) or, for the modeler's script, a JSON error; the operator finds the error in the log.
TESTING and PROPAGATE_EXCEPTIONS are off, so the production error handling answers."""

from __future__ import annotations

import logging
import re
import sqlite3

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from engine import casefile, drafts, identity, runtime, services, worklist
from tests.web.helpers import SOP000, is_error_page, text

SELECT = ("SELECT users.password_hash, users.active FROM users JOIN user_roles ON user_roles.username = "
          "users.username WHERE users.username = %(username_1)s")
INSERT = "INSERT INTO audit_events (instance_id, at, actor, type, data_json) VALUES (?, ?, ?, ?, ?)"
ORIGIN = ('connection to server at "10.20.30.40", port 5432 failed: FATAL: password authentication failed for '
          'user "alur_prod" (/srv/alur/engine/runtime.py line 42)')


def failures():
    """(name, exception) with the internals a careless error page would show."""
    return [
        ("operational", OperationalError(SELECT, {"username_1": "rahasia_user"}, Exception(ORIGIN))),
        ("integrity", IntegrityError(INSERT, (1, "2026-01-01", "x", "y", "{}"),
                                     sqlite3.IntegrityError("UNIQUE constraint failed: audit_events.id"))),
        ("data", DataError(SELECT, {}, Exception("PostgreSQL text fields cannot contain NUL (0x00) bytes"))),
        ("key", KeyError("ALUR_SECRET_KEY_prod")),
        ("runtime", RuntimeError(f"state corrupt in /srv/alur/engine/runtime.py line 42: {ORIGIN}")),
    ]


FAILURES = [name for name, _ in failures()]
# What no response may contain: a trace, the library, the statement, the connection, the exception, a path.
LEAKS = ["Traceback", "sqlalchemy", "psycopg", "sqlite3", "SELECT", "INSERT", "FROM users", "WHERE", "JOIN",
         "password_hash", "audit_events", "user_roles", "%(username_1)s", "rahasia_user", "10.20.30.40", "alur_prod",
         "/srv/", "/work/", "site-packages", ".py", "line 42", "ALUR_SECRET_KEY_prod", "UNIQUE constraint",
         "NUL (0x00)", "OperationalError", "IntegrityError", "DataError", "KeyError", "RuntimeError", "File \""]


@pytest.fixture
def production(site, monkeypatch):
    """The app as deployed: exceptions go to the error handler, not to the test."""
    monkeypatch.setitem(site.flask.config, "TESTING", False)
    monkeypatch.setitem(site.flask.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setitem(site.flask.config, "DEBUG", False)
    return site


# Random tokens (the signed session cookie, the CSRF token) may hold ".py" or "SELECT" by chance: about one
# response in a thousand did. They are left out before looking for leaks.
_TOKENS = re.compile(r'((?:name="csrf-token" content|name="csrf_token" value)=")[^"]*|(Set-Cookie: [^=]+=)[^;]*')


def leaks(response) -> list[str]:
    body = response.get_data(as_text=True)
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    body, headers = (_TOKENS.sub(lambda m: m.group(1) or m.group(2), part) for part in (body, headers))
    return [leak for leak in LEAKS if leak in body or leak in headers]


def raiser(exception):
    def broken(*args, **kwargs):
        raise exception
    return broken


def logged(caplog, exception) -> bool:
    return any(record.exc_info and record.exc_info[1] is exception and record.levelno >= logging.ERROR
               for record in caplog.records)


def html_views(site, browser):
    """(what to break, how to ask) for pages, forms and the login: each view calls the broken function."""
    case = site.start(SOP000, "klien.malut")
    item = site.only_ready(case.id)
    return [
        ((casefile, "case_view"), lambda: browser.get(f"/kasus/{case.id}")),
        ((worklist, "inbox_page"), lambda: browser.get("/tugas")),
        ((runtime, "complete"), lambda: browser.upload(f"/tugas/{item.id}", {"catatan": "x"})),
        ((services, "start"), lambda: browser.post(f"/layanan/{SOP000}", {})),
        ((worklist, "claim"), lambda: browser.post(f"/tugas/{item.id}/ambil")),
    ]


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failure_inside_a_page_answers_the_500_page_in_indonesian_with_nothing_internal(production, monkeypatch,
                                                                                          caplog, failure):
    exception = dict(failures())[failure]
    username = production.user(("Klien", "MALUT"))
    browser = production.browser(username, lang=None)
    for (module, name), ask in html_views(production, browser):
        with monkeypatch.context() as patch, caplog.at_level(logging.ERROR, logger="alur.web"):
            caplog.clear()
            patch.setattr(module, name, raiser(exception))
            response = ask()
        where = (failure, f"{module.__name__}.{name}")
        page = text(response)
        assert response.status_code == 500, (where, response.status_code)
        assert is_error_page(page), where
        assert '<html lang="id">' in page and "Terjadi kesalahan" in page, where
        assert leaks(response) == [], (where, leaks(response))
        assert str(exception) not in page and repr(exception) not in page, where
        assert logged(caplog, exception), f"{where}: the operator finds the error in the log"


@pytest.mark.parametrize("failure", FAILURES)
def test_the_login_form_failing_answers_the_500_page_without_internals(production, monkeypatch, caplog, failure):
    exception = dict(failures())[failure]
    browser = production.browser(lang=None)
    monkeypatch.setattr("webui.auth.passwords.verify_password", raiser(exception))
    with caplog.at_level(logging.ERROR, logger="alur.web"):
        response = browser.login("klien.malut")
    assert response.status_code == 500
    assert "Terjadi kesalahan" in text(response)
    assert leaks(response) == []
    assert logged(caplog, exception)
    assert not browser.logged_in


def json_calls(site, browser):
    draft = browser.post("/rancangan/baru", {"name": "Rancangan Gagal"})
    draft_id = int(draft.headers["Location"].rsplit("/", 1)[1])
    headers = {"X-CSRFToken": browser.fresh_token(), "Accept": "application/json"}
    return [
        ((drafts, "save"), lambda: browser.client.post(f"/rancangan/{draft_id}/simpan", headers=headers,
                                                       json={"xml": "<x/>", "row_version": 1})),
        ((drafts, "check"), lambda: browser.client.post(f"/rancangan/{draft_id}/periksa", headers=headers, json={})),
        ((drafts, "deploy"), lambda: browser.client.post(f"/rancangan/{draft_id}/terapkan", headers=headers,
                                                         json={"note": "x"})),
        ((drafts, "get"), lambda: browser.client.get(f"/rancangan/{draft_id}/isi", headers=headers)),
    ]


@pytest.mark.parametrize("failure", FAILURES)
def test_the_modelers_json_endpoints_answer_a_json_error_without_internals(production, monkeypatch, caplog, failure):
    exception = dict(failures())[failure]
    browser = production.browser(production.user(("analyst", None), ("deployer", None)), lang=None)
    for (module, name), ask in json_calls(production, browser):
        with monkeypatch.context() as patch, caplog.at_level(logging.ERROR, logger="alur.web"):
            caplog.clear()
            patch.setattr(module, name, raiser(exception))
            response = ask()
        where = (failure, name)
        assert response.status_code == 500, where
        assert response.mimetype == "application/json", (where, response.mimetype)
        body = response.get_json()
        assert body["error"] == "internal_error" and body["message"], (where, body)
        assert "kesalahan" in body["message"].lower() or "tercatat" in body["message"].lower(), body
        assert leaks(response) == [], (where, leaks(response))
        assert logged(caplog, exception), where


def test_the_modelers_json_endpoints_answer_json_for_http_errors_too(production):
    browser = production.browser(production.user(("analyst", None)), lang=None)
    headers = {"X-CSRFToken": browser.fresh_token(), "Accept": "application/json"}
    checks = [
        (browser.client.post("/rancangan/2147483647/simpan", json={"xml": "<x/>", "row_version": 1},
                             headers=headers), 404),
        (browser.client.post("/rancangan/1/simpan", json={"xml": "<x/>", "row_version": 1},
                             headers={"Accept": "application/json"}), 400),  # no CSRF token
        (browser.client.get("/rancangan/1/simpan", headers=headers), 405),
        (browser.client.post("/rancangan/1/tidak-ada", json={}, headers=headers), 404),
    ]
    for response, status in checks:
        assert response.status_code == status, (response.status_code, text(response)[:200])
        assert response.mimetype == "application/json", (status, response.mimetype)
        assert response.get_json()["message"], status
        assert leaks(response) == []


def dead_database(site, monkeypatch, backend):
    """Every unit of work from now on meets a database that does not answer."""
    url = ("postgresql+psycopg://alur_prod@127.0.0.1:1/alur?connect_timeout=2" if backend == "postgresql"
           else "sqlite:////nonexistent/folder/alur.db")
    dead = create_engine(url)
    monkeypatch.setattr(site.alur.uow, "engine", dead)
    return dead


@pytest.mark.parametrize("who", ["anonymous", "logged_in"])
def test_an_unreachable_database_answers_the_500_page_without_internals(production, monkeypatch, caplog, who):
    browser = production.browser(production.user(("Klien", "MALUT")) if who == "logged_in" else None, lang=None)
    dead_database(production, monkeypatch, production.backend)
    asks = [lambda: browser.get("/tugas"), lambda: browser.get("/kasus/1"), lambda: browser.get("/kelola/pengguna")]
    if who == "anonymous":
        asks.append(lambda: browser.login("klien.malut"))
    for ask in asks:
        with caplog.at_level(logging.ERROR, logger="alur.web"):
            caplog.clear()
            response = ask()
        if who == "anonymous" and response.status_code == 302:
            continue  # a page that needs no database sends an anonymous visitor to the login page
        assert response.status_code in (500, 503), response.status_code
        assert "Terjadi kesalahan" in text(response) or "tidak tersedia" in text(response).lower()
        assert leaks(response) == [], leaks(response)
        assert any(record.exc_info for record in caplog.records), "the operator finds the error in the log"
    monkeypatch.undo()
    assert browser.get("/masuk").status_code in (200, 302), "the site recovers when the database is back"


def test_the_500_page_is_in_english_for_those_who_chose_it(production, monkeypatch):
    browser = production.browser(production.user(("Klien", "MALUT")), lang="en")
    monkeypatch.setattr(identity, "users", raiser(RuntimeError("x")))
    monkeypatch.setattr(worklist, "inbox_page", raiser(RuntimeError(SELECT)))
    response = browser.get("/tugas")
    assert response.status_code == 500
    assert "Something went wrong" in text(response)
    assert leaks(response) == []
