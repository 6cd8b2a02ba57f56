"""The CSRF walk: every POST rule of the URL map refuses a request without the session's token, and changes nothing.

Generated from the url_map (login, logout and the language switch included), so a new POST route is covered the
day it appears. Each rule is sent as the persona for whom it succeeds (see test_authorization.EXPECT), with a body
that changes something: without a token, with an empty one and with another session's token it gets 400 and
every table (row counts and contents, the audit trail included) stays as it was; then the same request with the
session's token does change something, which proves the refused requests would have done something.
That only POST changes anything is checked by the authorization matrix: its GET requests, every rule as every
persona, leave every table as it was.
"""

from __future__ import annotations

import io
import re

import pytest

from engine import services, versions
from tests.conftest import FIXTURES
from tests.security.test_authorization import (
    EXPECT,
    LANE,
    OFFICE,
    PERSONAS,
    SPARE,
    World,
    build_world,
    call_for,
    path_of,
    rules,
    send,
    snapshot,
)
from tests.web.helpers import Browser, is_error_page, text

SUCCESS = {"200", "302", "302/masuk"}
# Requests that succeed without writing to the database: their control is another observable change.
NO_WRITE = {"modeler.check", "admin.upload_check", "auth.logout"}
VARIANTS = ("missing", "empty", "other-session")


@pytest.fixture(scope="module")
def world(site) -> World:
    return build_world(site)


def persona_for(endpoint: str) -> str:
    """Who the request succeeds for: the lane holder where they may, else the global admin; logging in: nobody."""
    if endpoint == "auth.login":
        return "anonymous"
    row = dict(zip(PERSONAS, EXPECT[(endpoint, "POST")].split(), strict=True))
    return next((p for p in ("holder", "admin") if row[p] in SUCCESS), "admin")


# --- bodies that change something (where the matrix's bodies are idempotent or change nothing) -----------------------

def _fresh_target(world, call):
    call.values["username"] = world.site.user((LANE, OFFICE), prefix="sasaran-csrf")


def _retired_first(world, call):
    versions.retire(world.site.alur.uow(), SPARE, 1, actor="admin", reason="dipulihkan lagi oleh uji")


def _case_on_first_version(world, call):
    versions.restore(world.site.alur.uow(), SPARE, 1, actor="admin")  # whatever ran before: cases may start on it
    services.start(world.site.alur.uow(), SPARE, actor="admin", version=1, office=OFFICE)


def _staged_upload(world, call):
    """Check a new version of the spare process on the deploy page, so the deploy has a token to deploy."""
    data = (FIXTURES / "two_steps_timer.bpmn").read_bytes() + f"\n<!-- csrf {world.site.backend} -->\n".encode()
    page = text(world.browsers["admin"].upload("/kelola/unggah", {"files": (io.BytesIO(data), "dua.bpmn")}))
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token, "the deploy page staged nothing"
    call.data = {"token": token.group(1), "note": "uji CSRF"}


SETUP = {
    "auth.language": lambda world, call: call.data.update(lang="id"),  # the browsers start in English
    "auth.account": lambda world, call: call.data.update(email_notifications=""),  # on by default: turn it off
    "admin.user_grant": lambda world, call: call.data.update(role="Duta Layanan"),
    "admin.user_revoke": _fresh_target,
    "admin.user_active": lambda world, call: (_fresh_target(world, call), call.data.update(active="0")),
    "admin.user_password": _fresh_target,
    "admin.lane_role_save": lambda world, call: call.data.update(role="Petugas Uji CSRF"),
    "admin.restore": _retired_first,
    "admin.migration_run": _case_on_first_version,
    "admin.upload_deploy": _staged_upload,
}


def post_rules(site):
    found = [(endpoint, rule) for endpoint, method, rule in rules(site.flask) if method == "POST"]
    assert len(found) >= 30, "the walk lost POST rules"
    return found


def browser_of(world: World, persona: str, endpoint: str) -> Browser:
    """The persona's browser; one of its own where the request logs in or out."""
    if endpoint in ("auth.login", "auth.logout") or persona == "anonymous":
        return world.site.browser(None if persona == "anonymous" else world.users[persona])
    return world.browsers[persona]


def other_token(world: World, persona: str) -> str:
    """The CSRF token of a second session of the same user (or of another visitor)."""
    tokens = world.cache.setdefault("other_tokens", {})
    if persona not in tokens:
        tokens[persona] = world.site.browser(None if persona == "anonymous" else world.users[persona]).fresh_token()
    return tokens[persona]


def forged(call, variant: str, foreign: str, json: bool):
    """The call's body (or headers) with the token left out, empty, or another session's."""
    token = {"missing": None, "empty": "", "other-session": foreign}[variant]
    if json:
        return {"json": call.json, "headers": {} if token is None else {"X-CSRFToken": token}}
    data = dict(call.data or {})
    if token is not None:
        data["csrf_token"] = token
    return {"data": data}


def test_every_post_rule_refuses_a_missing_empty_or_foreign_token_and_changes_nothing(site, world):
    refused = 0
    for endpoint, rule in post_rules(site):
        persona = persona_for(endpoint)
        call = call_for(world, endpoint, "POST", persona)
        if endpoint in SETUP:
            call.data = dict(call.data or {})
            SETUP[endpoint](world, call)
        url = path_of(rule, call.values) + call.query
        browser = browser_of(world, persona, endpoint)
        foreign = other_token(world, persona)
        assert foreign != browser.fresh_token()
        language = language_of(browser)
        before = snapshot(site)
        for variant in VARIANTS:
            response = browser.client.post(url, **forged(call, variant, foreign, call.json is not None))
            where = f"{endpoint} POST {url} ({persona}, token {variant})"
            assert response.status_code == 400, where
            assert refusal_shown(response), where
            assert browser.logged_in == (persona != "anonymous"), f"{where} changed who is logged in"
            refused += 1
        assert snapshot(site) == before, f"{endpoint} POST {url} ({persona}): a refused request changed the database"
        assert language_of(browser) == language, f"{endpoint}: the refused requests changed the session's language"
        # The control: with the session's token the same request goes through and changes something.
        response = send(world, persona, "POST", url, _own(call, browser))
        assert response.status_code in (200, 302, 400), (endpoint, response.status_code)
        if endpoint == "auth.logout":
            assert not browser.logged_in
        elif endpoint == "auth.login":
            assert browser.logged_in
        if endpoint not in NO_WRITE:
            assert snapshot(site) != before, f"{endpoint}: the control request changed nothing"
    assert refused == 3 * len(post_rules(site))


def language_of(browser: Browser) -> str:
    page = text(browser.get("/akun" if browser.logged_in else "/masuk"))
    return re.search(r'<html lang="([^"]+)">', page).group(1)


def refusal_shown(response) -> bool:
    """An error page, or for the editor's script a JSON error it can show."""
    if response.mimetype == "application/json":
        return bool(response.get_json().get("error"))
    return is_error_page(text(response))


def _own(call, browser):
    call.browser = browser
    return call
