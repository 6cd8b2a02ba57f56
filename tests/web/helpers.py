"""The seeded site the web tests run against, a browser-like client, and small readers of the rendered pages."""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from adapters import demo, tables
from adapters.sql import Office
from engine import services, worklist
from engine.model import Instance, WorkItem
from engine.passwords import verify_password

PASSWORD = demo.DEMO_PASSWORD

SOP000 = "sop_000_layanan_publik"
SOP001 = "sop_001_standar_pelayanan"
SOP002 = "sop_002_kelompok_rentan"
SOP003 = "sop_003_pengaduan_masyarakat"
SOP004 = "sop_004_yankomas"
SOP_KEYS = (SOP000, SOP001, SOP002, SOP003, SOP004)

_COUNTER = itertools.count(1)
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_ROW = re.compile(r'<tr class="[^"]*" data-item="([^"]+)">')
_TOTAL = re.compile(r"<h1>[^<]*<small class=\"muted\">\((\d+)\)</small></h1>")


def cheap_hash(password: str) -> str:
    """A scrypt hash in Alur's stored format with a tiny work factor, so the many test logins stay fast.

    verify_password takes the parameters from the stored hash, so logins run the real code path.
    """
    salt = secrets.token_bytes(16)
    n, r, p = 2**4, 8, 1
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    stored = f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_password(password, stored), "the stored password format changed; update cheap_hash"
    return stored


PASSWORD_HASH = cheap_hash(PASSWORD)


def unique(prefix: str) -> str:
    """A name no other test of the session uses."""
    return f"{prefix}{next(_COUNTER)}"


def clock_at(**ago) -> callable:
    """An engine clock fixed at a moment in the past, e.g. clock_at(hours=2)."""
    moment = datetime.now(UTC) - timedelta(**ago)
    return lambda: moment


# --- reading pages ------------------------------------------------------------------------------------------------

def text(response) -> str:
    return response.get_data(as_text=True)


def csrf_token(page: str) -> str:
    match = _CSRF_META.search(page)
    assert match, "every page carries the CSRF token in a meta tag"
    return match.group(1)


def inbox_rows(page: str) -> list[str]:
    """The work item ids of the inbox table, in order."""
    return _ROW.findall(page)


def inbox_total(page: str) -> int:
    match = _TOTAL.search(page)
    assert match, "the inbox heading shows the number of waiting items"
    return int(match.group(1))


def field_block(page: str, name: str) -> str:
    """The HTML of one form field's block (its label, input, help and error)."""
    match = re.search(rf'<div class="field[^"]*" data-field="{re.escape(name)}">(.*?)</div>', page, re.DOTALL)
    assert match, f"the form has no field {name!r}"
    return match.group(0)


def field_error(page: str, name: str) -> str | None:
    match = re.search(r'<p class="field-error" role="alert">(.*?)</p>', field_block(page, name), re.DOTALL)
    return html.unescape(match.group(1)).strip() if match else None


def flashes(page: str, category: str | None = None) -> list[str]:
    """The flashed messages of a page (of one category: success, error, info), unescaped."""
    found = re.findall(r'<p class="flash ([^"]*)"(?: role="[^"]*")?>(.*?)</p>', page, re.DOTALL)
    return [html.unescape(message).strip() for kind, message in found if category in (None, kind)]


def events(page: str, kind: str) -> list[str]:
    """The history entries of one event type (instance_started, task_completed, ...), as HTML."""
    return re.findall(rf'<li class="event {kind}">(.*?)</li>', page, re.DOTALL)


def is_error_page(page: str) -> bool:
    return 'class="card narrow error-page"' in page


def location(response) -> str:
    return response.headers.get("Location", "")


def is_local(url: str) -> bool:
    """Whether a browser following this Location stays on the site."""
    return url.startswith("/") and not url.startswith("//") and "\\" not in url and not urlsplit(url).netloc


def sneaky_targets(where: str) -> list:
    """`next` values with a control character: Werkzeug would drop a tab (//evil.com) or refuse a CR/LF (500)."""
    return [
        pytest.param("/\t/evil.com", id="tab"),
        pytest.param("/\n/evil.com", id="newline"),
        pytest.param("/\r/evil.com", id="carriage-return"),
    ]


# --- clients and the site -----------------------------------------------------------------------------------------

class Browser:
    """A Flask test client that logs in through the form and sends the CSRF token with every POST."""

    def __init__(self, client: FlaskClient, lang: str | None = "en", address: str | None = None):
        self.client = client
        self.token: str | None = None
        if address:
            client.environ_base["REMOTE_ADDR"] = address
        if lang:
            with client.session_transaction() as session:
                session["lang"] = lang

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    @property
    def logged_in(self) -> bool:
        with self.client.session_transaction() as session:
            return "_user_id" in session

    def fresh_token(self) -> str:
        """The CSRF token of a page fetched now (the login page when logged out)."""
        self.token = csrf_token(text(self.client.get("/layanan" if self.logged_in else "/masuk")))
        return self.token

    def login(self, username: str, password: str = PASSWORD, *, next_url: str | None = None):
        """Submit the login form; after a successful login the token of a page fetched after it is kept."""
        token = csrf_token(text(self.client.get("/masuk")))
        url = "/masuk" if next_url is None else f"/masuk?{urlencode({'next': next_url})}"
        response = self.client.post(url, data={"username": username, "password": password, "csrf_token": token})
        self.token = None
        if response.status_code == 302:
            self.fresh_token()
        return response

    def post(self, url, data=None, *, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token or self.fresh_token())
        return self.client.post(url, data=data, **kwargs)

    def upload(self, url, data, **kwargs):
        return self.post(url, data, content_type="multipart/form-data", **kwargs)


@dataclass
class Site:
    """A seeded Alur (offices, admin, the five seed SOPs, a demo account per lane role) behind the Flask app."""

    alur: object
    flask: Flask
    backend: str
    files: Path

    def browser(self, username: str | None = None, password: str = PASSWORD, lang: str | None = "en",
                address: str | None = None) -> Browser:
        """A client (from `address`), logged in as `username` when given; English unless lang says otherwise."""
        browser = Browser(self.flask.test_client(), lang=lang, address=address)
        if username:
            response = browser.login(username, password)
            assert response.status_code == 302, f"{username} could not log in: {response.status_code}"
        return browser

    def office(self, prefix: str = "K") -> str:
        """A new elapsed-time office that no other test uses."""
        code = unique(prefix)
        with self.alur.uow() as uow:
            uow.directory.add_office(Office(code, f"Kantor {code}", "Asia/Jakarta", "elapsed"))
            uow.commit()
        return code

    def user(self, *grants: tuple[str, str | None], prefix: str = "user", active: bool = True) -> str:
        """A new account with password PASSWORD holding the (role, office) grants."""
        username = unique(prefix)
        with self.alur.uow() as uow:
            uow.directory.add_user(username, PASSWORD_HASH, username, None, services.utcnow())
            for role, office in grants:
                uow.directory.grant(username, role, office)
            uow.commit()
        if not active:
            self.deactivate(username)
        return username

    def deactivate(self, username: str) -> None:
        with self.alur.uow() as uow:
            uow.conn.execute(update(tables.users).where(tables.users.c.username == username).values(active=False))
            uow.commit()

    def start(self, key: str, actor: str, office: str | None = None, clock=None) -> Instance:
        extra = {"clock": clock} if clock else {}
        return services.start(self.alur.uow(), key, actor=actor, office=office, **extra)

    def complete(self, item_id: str, actor: str, data: dict | None = None, clock=None) -> Instance:
        extra = {"clock": clock} if clock else {}
        return services.complete(self.alur.uow(), item_id, actor=actor, data=data or {}, **extra)

    def claim(self, item_id: str, actor: str) -> WorkItem:
        return worklist.claim(self.alur.uow(), item_id, actor=actor)

    def items(self, instance_id: int) -> list[WorkItem]:
        with self.alur.uow(write=False) as uow:
            return uow.work_items.for_instance(instance_id)

    def ready(self, instance_id: int) -> list[WorkItem]:
        return [w for w in self.items(instance_id) if w.state == "ready"]

    def only_ready(self, instance_id: int) -> WorkItem:
        ready = self.ready(instance_id)
        assert len(ready) == 1, ready
        return ready[0]

    def item(self, item_id: str) -> WorkItem:
        with self.alur.uow(write=False) as uow:
            return uow.work_items.get(item_id)

    def instance(self, instance_id: int) -> Instance:
        with self.alur.uow(write=False) as uow:
            return uow.instances.get(instance_id)

    def instances(self) -> list[Instance]:
        with self.alur.uow(write=False) as uow:
            return uow.instances.list()

    def history(self, instance_id: int):
        with self.alur.uow(write=False) as uow:
            return uow.audit.for_instance(instance_id)

    def attachments(self, instance_id: int):
        with self.alur.uow(write=False) as uow:
            return uow.attachments.for_instance(instance_id)

    def stored_files(self) -> set[Path]:
        return {p for p in self.files.rglob("*") if p.is_file()} if self.files.exists() else set()

    def language_of(self, username: str) -> str | None:
        with self.alur.uow(write=False) as uow:
            return uow.directory.user(username).language

    def walk_to(self, instance_id: int, step_id: str, office: str, decisions: dict | None = None) -> WorkItem:
        """Complete steps as the demo holder of each lane until `step_id` is ready; return its work item."""
        decisions = decisions or {}
        for _ in range(50):
            item = self.only_ready(instance_id)
            if item.step_id == step_id:
                return item
            self.complete(item.id, demo.demo_username(item.lane, office), decisions.get(item.step_id))
        raise AssertionError(f"{step_id} never became ready")

    def finish(self, instance_id: int, office: str, decisions: dict | None = None) -> Instance:
        """Complete every remaining step as the demo holders, taking the first choice at each decision."""
        for _ in range(50):
            ready = self.ready(instance_id)
            if not ready:
                break
            item = ready[0]
            self.complete(item.id, demo.demo_username(item.lane, office), (decisions or {}).get(item.step_id))
        instance = self.instance(instance_id)
        assert instance.status == "completed"
        return instance
