"""Sessions live on the server: renewed at login, ended at logout, by deactivation and by a new password; they
expire when idle and after a fixed lifetime; the cookie is HttpOnly, SameSite=Lax and Secure over HTTPS."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from adapters import tables
from engine import identity
from tests.web.helpers import PASSWORD, SOP000, csrf_token, location, text

COOKIE = "alur_session"


def cookie(browser) -> str | None:
    found = browser.client.get_cookie(COOKIE)
    return found.value if found else None


def session_data(browser) -> dict:
    with browser.client.session_transaction() as session:
        return dict(session)


def session_id(browser) -> str:
    """The random id the login put in the browser's (signed) cookie."""
    username, _, sid = session_data(browser)["_user_id"].partition(":")
    assert username and len(sid) >= 40, "a session id of at least 32 random bytes"
    return sid


def replay(site, stolen: str):
    """A second browser presenting a copied session cookie."""
    thief = site.browser(lang=None)
    thief.client.set_cookie(COOKIE, stolen)
    return thief


def sessions_of(site, username) -> list:
    with site.alur.uow(write=False) as uow:
        return list(uow.conn.execute(select(tables.sessions).where(tables.sessions.c.username == username)))


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and location(response).startswith("/masuk")


def shift_session(site, username, **columns_ago) -> None:
    """Move the times of every session of `username` into the past: shift_session(site, u, last_seen_at={...})."""
    now = datetime.now(UTC)
    values = {column: now - timedelta(**ago) for column, ago in columns_ago.items()}
    with site.alur.uow() as uow:
        uow.conn.execute(update(tables.sessions).where(tables.sessions.c.username == username).values(**values))
        uow.commit()


# --- renewal at login ---------------------------------------------------------------------------------------------

def test_login_renews_the_session_keeping_only_the_language(site):
    browser = site.browser(lang="en")
    page = text(browser.get("/masuk"))
    with browser.client.session_transaction() as session:
        session["planted"] = "by-someone-else"
        session["_user_id"] = "admin:made-up"
    before_cookie, before_token = cookie(browser), csrf_token(page)
    assert browser.login(site.user(("Klien", "MALUT"))).status_code == 302
    after = session_data(browser)
    assert cookie(browser) != before_cookie
    assert "planted" not in after
    assert after["lang"] == "en"
    assert not after["_user_id"].startswith("admin:")
    assert after.get("csrf_token") and browser.token != before_token


def test_a_cookie_planted_before_login_is_not_logged_in_after_it(site):
    """Session fixation: whoever handed the victim a cookie before login gains nothing when the victim logs in."""
    victim = site.browser()
    victim.get("/masuk")
    planted = cookie(victim)
    assert victim.login(site.user(("Klien", "MALUT"))).status_code == 302
    assert victim.get("/tugas").status_code == 200
    assert is_login_redirect(replay(site, planted).get("/tugas"))


def test_every_login_opens_a_new_session_with_its_own_random_id(site):
    username = site.user(("Klien", "MALUT"))
    first, second = site.browser(username), site.browser(username)
    ids = {session_id(first), session_id(second)}
    assert len(ids) == 2
    stored = {row.id_hash for row in sessions_of(site, username)}
    assert stored == {hashlib.sha256(sid.encode()).hexdigest() for sid in ids}
    assert not ids & stored, "the table holds hashes, never an id that opens a session"
    assert first.get("/tugas").status_code == 200 and second.get("/tugas").status_code == 200


def test_a_session_id_that_no_login_made_opens_nothing(site):
    username = site.user(("Klien", "MALUT"))
    real = site.browser(username)
    sid = session_id(real)
    for forged in (f"{username}:{'A' * 43}", f"{username}:", f"{username}", f"admin:{sid}", f"{username}:{sid}x",
                   f"{username}:{hashlib.sha256(sid.encode()).hexdigest()}"):
        browser = site.browser()
        with browser.client.session_transaction() as session:
            session["_user_id"] = forged
            session["_fresh"] = True
        assert is_login_redirect(browser.get("/tugas")), forged


# --- logout -------------------------------------------------------------------------------------------------------

def test_a_cookie_copied_before_logout_is_anonymous_after_it(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    stolen = cookie(browser)
    assert replay(site, stolen).get("/tugas").status_code == 200, "the copy works while the session is open"
    assert browser.post("/keluar").status_code == 302
    assert sessions_of(site, username) == []
    thief = replay(site, stolen)
    assert is_login_redirect(thief.get("/tugas"))
    assert is_login_redirect(thief.get("/akun"))


def test_logging_out_ends_only_that_session(site):
    username = site.user(("Klien", "MALUT"))
    office, home = site.browser(username), site.browser(username)
    assert office.post("/keluar").status_code == 302
    assert len(sessions_of(site, username)) == 1
    assert home.get("/tugas").status_code == 200


# --- deactivation and a new password ------------------------------------------------------------------------------

def test_a_deactivated_user_is_locked_out_on_the_very_next_request_and_their_posts_are_refused(site):
    username = site.user(("Klien", "MALUT"))
    case = site.start(SOP000, username)
    item = site.only_ready(case.id)
    browser = site.browser(username)
    token = browser.fresh_token()
    assert browser.get("/tugas").status_code == 200
    admin = site.browser("admin")
    assert admin.post(f"/kelola/pengguna/{username}/aktif", {"active": "0"}).status_code == 302
    assert sessions_of(site, username) == [], "deactivation deleted the account's sessions"
    assert is_login_redirect(browser.get("/tugas"))
    refused = browser.post(f"/tugas/{item.id}/ambil", {"csrf_token": token})
    assert refused.status_code in (302, 400) and site.item(item.id).claimed_by is None
    started = browser.post(f"/layanan/{SOP000}", {"csrf_token": token})
    assert started.status_code in (302, 400)
    assert len([i for i in site.instances() if i.started_by == username]) == 1
    # Reactivated, the old cookie still opens nothing: a new login is needed.
    assert admin.post(f"/kelola/pengguna/{username}/aktif", {"active": "1"}).status_code == 302
    assert is_login_redirect(browser.get("/tugas"))
    assert site.browser().login(username).status_code == 302


def test_a_session_of_an_account_deactivated_behind_the_apps_back_is_refused_too(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    site.deactivate(username)  # a plain UPDATE: the sessions row is still there, the active flag is checked too
    assert len(sessions_of(site, username)) == 1
    assert is_login_redirect(browser.get("/tugas"))


def test_an_admins_password_reset_ends_every_session_of_the_account(site):
    username = site.user(("Klien", "MALUT"))
    office, home = site.browser(username), site.browser(username)
    stolen = cookie(office)
    admin = site.browser("admin")
    response = admin.post(f"/kelola/pengguna/{username}/sandi", {"password": "sandi-baru-123"})
    assert response.status_code == 302
    assert sessions_of(site, username) == []
    assert is_login_redirect(office.get("/tugas"))
    assert is_login_redirect(home.get("/tugas"))
    assert is_login_redirect(replay(site, stolen).get("/tugas"))
    assert admin.get("/tugas").status_code == 200, "the admin's own session goes on"
    assert site.browser().login(username, PASSWORD).status_code == 401
    assert site.browser().login(username, "sandi-baru-123").status_code == 302


# --- idle timeout and absolute lifetime ---------------------------------------------------------------------------

def test_a_session_idle_for_longer_than_the_timeout_is_ended(site):
    idle = int(site.flask.config["SESSION_IDLE_MINUTES"])
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    shift_session(site, username, last_seen_at={"minutes": idle - 5})
    assert browser.get("/tugas").status_code == 200, "still inside the idle timeout"
    [row] = sessions_of(site, username)
    assert datetime.now(UTC) - row.last_seen_at < timedelta(minutes=1), "use moves the idle clock"
    shift_session(site, username, last_seen_at={"minutes": idle + 1})
    assert is_login_redirect(browser.get("/tugas"))


def test_a_session_older_than_its_absolute_lifetime_is_ended_even_while_in_use(site):
    hours = float(site.flask.config["SESSION_MAX_HOURS"])
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    shift_session(site, username, created_at={"hours": hours - 0.1})
    assert browser.get("/tugas").status_code == 200
    shift_session(site, username, created_at={"hours": hours, "minutes": 1})
    assert is_login_redirect(browser.get("/tugas"))


def test_the_chosen_limits_suit_an_office_day(site):
    config = site.flask.config
    assert 15 <= config["SESSION_IDLE_MINUTES"] <= 8 * 60
    assert 8 <= config["SESSION_MAX_HOURS"] <= 24
    assert site.flask.permanent_session_lifetime >= timedelta(hours=config["SESSION_MAX_HOURS"])


def test_the_limits_are_configurable(site, monkeypatch):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    shift_session(site, username, last_seen_at={"minutes": 11})
    assert browser.get("/tugas").status_code == 200
    monkeypatch.setitem(site.flask.config, "SESSION_IDLE_MINUTES", 10)
    shift_session(site, username, last_seen_at={"minutes": 11})
    assert is_login_redirect(browser.get("/tugas"))


def test_expired_sessions_are_swept_away_at_the_next_login(site):
    username = site.user(("Klien", "MALUT"))
    site.browser(username)
    shift_session(site, username, created_at={"days": 3}, last_seen_at={"days": 3})
    site.browser("klien.malut")
    assert sessions_of(site, username) == []
    with site.alur.uow(write=False) as uow:
        limit = datetime.now(UTC) - timedelta(hours=float(site.flask.config["SESSION_MAX_HOURS"]))
        old = uow.conn.execute(select(func.count()).select_from(tables.sessions)
                               .where(tables.sessions.c.created_at < limit)).scalar_one()
    assert old == 0


# --- the cookie ---------------------------------------------------------------------------------------------------

def login_cookie(site, **kwargs) -> list[str]:
    """The attributes of the session cookie set by a successful login, lower-cased."""
    browser = site.browser()
    token = csrf_token(text(browser.client.get("/masuk", **kwargs)))
    extra = {"headers": {"Referer": "https://localhost/masuk"}} if "base_url" in kwargs else {}
    response = browser.client.post("/masuk", data={"username": "klien.malut", "password": PASSWORD,
                                                   "csrf_token": token}, **kwargs, **extra)
    assert response.status_code == 302
    [set_cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    return [part.strip().lower() for part in set_cookie.split(";")]


def test_the_cookie_is_httponly_and_samesite_lax_and_not_secure_over_plain_http_by_default(site):
    attributes = login_cookie(site)
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "secure" not in attributes
    assert not any(a.startswith(("expires=", "max-age=")) for a in attributes), "gone when the browser closes"


@pytest.mark.parametrize("how", ["configured", "https"])
def test_the_cookie_is_secure_when_configured_or_over_https(site, monkeypatch, how):
    if how == "configured":
        monkeypatch.setitem(site.flask.config, "SESSION_COOKIE_SECURE", True)
        attributes = login_cookie(site)
    else:
        attributes = login_cookie(site, base_url="https://localhost")
    assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes


def test_the_command_line_paths_end_sessions_too(site):
    """`alur users deactivate` and `alur users reset-password` call the same engine functions as the admin pages."""
    deactivated, reset = site.user(("Klien", "MALUT")), site.user(("Klien", "MALUT"))
    browsers = {deactivated: site.browser(deactivated), reset: site.browser(reset)}
    identity.set_active(site.alur.uow(), deactivated, False, actor="admin")
    identity.reset_password(site.alur.uow(), reset, "sandi-baru-456", actor="admin")
    for username, browser in browsers.items():
        assert sessions_of(site, username) == [], username
        assert is_login_redirect(browser.get("/tugas")), username
