"""Logging in and out: redirects, failed attempts, rate limiting, inactive accounts, cookies and `next`."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import unquote

import pytest
from itsdangerous import TimestampSigner

from engine.passwords import hash_password
from tests.web.helpers import PASSWORD, SOP000, csrf_token, flashes, location, sneaky_targets, text, unique

WRONG = "not-the-password"


def new_address() -> str:
    """An IP address no other test's client comes from."""
    number = int(unique("")) % 250 + 1
    return f"10.77.{number}.{number}"


def test_the_login_page_shows_the_form_with_a_csrf_token(site):
    response = site.browser().get("/masuk")
    page = text(response)
    assert response.status_code == 200
    assert 'name="username"' in page and 'name="password"' in page and 'type="password"' in page
    assert f'name="csrf_token" value="{csrf_token(page)}"' in page


def test_logging_in_with_the_right_password_redirects_to_the_inbox(site):
    browser = site.browser()
    response = browser.login("klien.malut")
    assert response.status_code == 302
    assert location(response) == "/tugas"
    inbox = browser.get("/tugas")
    assert inbox.status_code == 200
    assert 'title="klien.malut"' in text(inbox)


def test_a_logged_in_user_opening_the_login_page_is_sent_to_the_inbox(site):
    browser = site.browser("klien.malut")
    response = browser.get("/masuk")
    assert response.status_code == 302
    assert location(response) == "/tugas"


def test_a_wrong_password_is_refused_with_401_a_message_and_the_username_kept(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser()
    response = browser.login(username, WRONG)
    page = text(response)
    assert response.status_code == 401
    assert len(flashes(page, "error")) == 1
    assert f'name="username" value="{username}"' in page
    assert WRONG not in page
    assert not browser.logged_in


def bad_login_message(site) -> list[str]:
    """What a wrong password for an existing account shows."""
    return flashes(text(site.browser().login(site.user(("Klien", "MALUT")), WRONG)), "error")


def test_an_unknown_user_gets_the_same_message_as_a_wrong_password(site):
    browser = site.browser()
    response = browser.login(unique("nobody"), PASSWORD)
    assert response.status_code == 401
    assert flashes(text(response), "error") == bad_login_message(site)
    assert not browser.logged_in


def test_an_empty_form_is_refused_like_a_wrong_password(site):
    browser = site.browser()
    response = browser.login("", "")
    assert response.status_code == 401
    assert not browser.logged_in


def test_five_failures_for_one_username_block_even_the_right_password_with_429(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser()
    for _ in range(5):
        assert browser.login(username, WRONG).status_code == 401
    response = browser.login(username, PASSWORD)
    page = text(response)
    assert response.status_code == 429
    [message] = flashes(page, "error")
    assert "15" in message  # minutes to wait
    assert message not in bad_login_message(site)
    assert f'value="{username}"' in page
    assert not browser.logged_in


def test_the_block_for_one_username_does_not_affect_another_account(site):
    blocked, other = site.user(("Klien", "MALUT")), site.user(("Klien", "MALUT"))
    browser = site.browser()
    for _ in range(5):
        browser.login(blocked, WRONG)
    assert browser.login(blocked, PASSWORD).status_code == 429
    assert site.browser().login(other, PASSWORD).status_code == 302


def test_failures_before_a_successful_login_do_not_count_towards_the_limit(site):
    username = site.user(("Klien", "MALUT"))
    for _ in range(4):
        assert site.browser().login(username, WRONG).status_code == 401
    assert site.browser().login(username, PASSWORD).status_code == 302
    for _ in range(4):
        assert site.browser().login(username, WRONG).status_code == 401
    assert site.browser().login(username, PASSWORD).status_code == 302


def test_too_many_failures_from_one_address_block_every_account_from_it(site, monkeypatch):
    monkeypatch.setitem(site.flask.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 3)
    victim = site.user(("Klien", "MALUT"))
    guesser = site.browser(address=new_address())
    for _ in range(3):
        assert guesser.login(unique("guess"), WRONG).status_code == 401
    assert guesser.login(victim, PASSWORD).status_code == 429
    assert site.browser(address=new_address()).login(victim, PASSWORD).status_code == 302


def test_a_session_used_from_another_address_is_ended(site):
    browser = site.browser("klien.malut", address=new_address())
    assert browser.get("/tugas").status_code == 200
    browser.client.environ_base["REMOTE_ADDR"] = new_address()
    response = browser.get("/tugas")
    assert response.status_code == 302
    assert location(response).startswith("/masuk")


def test_an_inactive_user_cannot_log_in(site):
    username = site.user(("Klien", "MALUT"), active=False)
    browser = site.browser()
    response = browser.login(username, PASSWORD)
    assert response.status_code == 401
    assert flashes(text(response), "error") == bad_login_message(site)  # nothing tells the account exists
    assert not browser.logged_in


def test_a_user_deactivated_while_logged_in_is_sent_to_the_login_page(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    assert browser.get("/tugas").status_code == 200
    site.deactivate(username)
    response = browser.get("/tugas")
    assert response.status_code == 302
    assert location(response).startswith("/masuk")


def test_a_new_password_ends_the_sessions_opened_with_the_old_one(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    with site.alur.uow() as uow:
        uow.directory.set_password(username, hash_password("another-password"))
        uow.commit()
    assert location(browser.get("/tugas")).startswith("/masuk")


def test_the_session_cookie_is_httponly_and_samesite_lax(site):
    browser = site.browser()
    token = csrf_token(text(browser.get("/masuk")))
    response = browser.client.post("/masuk", data={"username": "klien.malut", "password": PASSWORD,
                                                   "csrf_token": token})
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("alur_session=")]
    assert cookies, "logging in sets the session cookie"
    attributes = [part.strip().lower() for part in cookies[-1].split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" not in attributes  # plain HTTP in the test


def test_the_session_cookie_is_secure_when_the_request_came_over_https(site):
    browser = site.browser()
    https = {"base_url": "https://localhost"}
    token = csrf_token(text(browser.client.get("/masuk", **https)))
    response = browser.client.post("/masuk", data={"username": "klien.malut", "password": PASSWORD,
                                                   "csrf_token": token},
                                   headers={"Referer": "https://localhost/masuk"}, **https)
    assert response.status_code == 302
    cookie = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("alur_session=")][-1]
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


@pytest.mark.parametrize("target", ["/layanan", "/kasus/1?tab=riwayat"])
def test_the_next_parameter_is_honoured_for_a_local_path(site, target):
    response = site.browser().login("klien.malut", next_url=target)
    assert response.status_code == 302
    assert location(response) == target


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com/", "/\\evil.com", "\\\\evil.com", "evil.com",
                                    "javascript:alert(1)", *sneaky_targets("webui/auth.py _safe_next (line 122)")])
def test_the_next_parameter_never_redirects_off_the_site(site, target):
    response = site.browser().login("klien.malut", next_url=target)
    assert response.status_code == 302
    assert location(response) == "/tugas"


def form_action(page: str) -> str:
    return html.unescape(re.search(r'<form method="post" action="([^"]*masuk[^"]*)"', page).group(1))


def test_the_login_form_keeps_the_next_parameter_after_a_failed_attempt(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser()
    page = text(browser.get("/masuk?next=/layanan"))
    action = form_action(page)
    assert unquote(action) == "/masuk?next=/layanan"
    failed = browser.client.post(action, data={"username": username, "password": WRONG,
                                               "csrf_token": csrf_token(page)})
    assert failed.status_code == 401
    action = form_action(text(failed))
    assert unquote(action) == "/masuk?next=/layanan"
    response = browser.client.post(action, data={"username": username, "password": PASSWORD,
                                                 "csrf_token": csrf_token(text(failed))})
    assert location(response) == "/layanan"


def test_a_csrf_token_from_before_login_is_not_accepted_after_login(site):
    browser = site.browser()
    before = csrf_token(text(browser.get("/masuk")))
    assert browser.login("klien.malut").status_code == 302
    response = browser.post("/keluar", {"csrf_token": before})
    assert response.status_code == 400
    assert browser.logged_in


def test_logging_out_needs_a_post(site):
    browser = site.browser("klien.malut")
    assert browser.get("/keluar").status_code == 405
    assert browser.get("/tugas").status_code == 200


def test_logging_out_without_a_csrf_token_is_refused_and_the_session_goes_on(site):
    browser = site.browser("klien.malut")
    response = browser.post("/keluar", csrf=False)
    assert response.status_code == 400
    assert browser.get("/tugas").status_code == 200


def test_logging_out_ends_the_session(site):
    browser = site.browser("klien.malut")
    response = browser.post("/keluar")
    assert response.status_code == 302
    assert location(response) == "/masuk"
    assert flashes(text(browser.get("/masuk")), "info")
    after = browser.get("/tugas")
    assert after.status_code == 302
    assert location(after).startswith("/masuk")


@pytest.mark.parametrize("path", ["/", "/tugas", "/tugas?show=mine", "/tugas/{item}", "/layanan",
                                  f"/layanan/{SOP000}", "/kasus/{case}", "/kasus/{case}/diagram.bpmn",
                                  "/lampiran/00000000-0000-0000-0000-000000000000"])
def test_an_anonymous_visitor_of_a_protected_page_is_sent_to_the_login_page(site, path):
    case = site.start(SOP000, "klien.malut")
    path = path.format(item=site.only_ready(case.id).id, case=case.id)
    response = site.browser().get(path)
    assert response.status_code == 302
    assert location(response).startswith("/masuk?next=")


def test_after_logging_in_from_a_protected_page_the_visitor_is_sent_back_to_it(site):
    case = site.start(SOP000, "klien.malut")
    browser = site.browser()
    redirect = location(browser.get(f"/kasus/{case.id}"))
    login_page = browser.get(redirect)
    assert flashes(text(login_page), "info")
    token = csrf_token(text(login_page))
    response = browser.client.post(redirect, data={"username": "klien.malut", "password": PASSWORD,
                                                   "csrf_token": token})
    assert response.status_code == 302
    assert location(response).rstrip("?") == f"/kasus/{case.id}"


def test_a_session_older_than_its_lifetime_is_no_longer_accepted(site, monkeypatch):
    browser = site.browser("klien.malut")
    assert browser.get("/tugas").status_code == 200
    lifetime = int(site.flask.permanent_session_lifetime.total_seconds())
    later = time.time() + lifetime + 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(later))
    response = browser.get("/tugas")
    assert response.status_code == 302
    assert location(response).startswith("/masuk")
