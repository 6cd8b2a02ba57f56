"""Passwords are stored with scrypt at OWASP's work factor; old hashes still log in and are upgraded at once."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time

import pytest
from sqlalchemy import select, update

from adapters import tables
from engine import passwords
from engine.passwords import hash_password, needs_rehash, verify_password
from tests.web.helpers import PASSWORD, cheap_hash

# OWASP Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1, or one of these equivalents.
OWASP_SCRYPT = [(2**17, 8, 1), (2**16, 8, 2), (2**15, 8, 3), (2**14, 8, 5), (2**13, 8, 10)]


def made_with(password: str, n: int, r: int, p: int) -> str:
    """A hash in Alur's format with chosen parameters (what an older Alur stored)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def parameters(stored: str) -> tuple[int, int, int]:
    kind, n, r, p, _salt, _digest = stored.split("$")
    assert kind == "scrypt"
    return int(n), int(r), int(p)


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_a_hash_is_scrypt_with_a_16_byte_salt_and_a_32_byte_key(stored):
    kind, n, r, p, salt, digest = stored.split("$")
    assert kind == "scrypt"
    assert len(base64.b64decode(salt, validate=True)) == 16
    assert len(base64.b64decode(digest, validate=True)) == 32
    assert PASSWORD not in stored
    assert hash_password(PASSWORD) != stored, "every hash has its own salt"


def test_the_work_factor_meets_owasps_scrypt_minimum_with_bounded_memory(stored):
    n, r, p = parameters(stored)
    assert any(n >= n0 and r >= r0 and p >= p0 for n0, r0, p0 in OWASP_SCRYPT), (n, r, p)
    assert 128 * r * n <= 64 * 1024 * 1024, "one login may not take more than 64 MiB"
    assert not needs_rehash(stored)


def test_the_right_password_verifies_and_a_wrong_one_does_not(stored):
    assert verify_password(PASSWORD, stored)
    for wrong in ("", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1], "démo12345"):
        assert not verify_password(wrong, stored), wrong


def test_a_non_ascii_password_round_trips():
    password = "kata sandi rahasia: ĳ 漢字 🙂"
    stored = made_with(password, 2**4, 8, 1)
    assert verify_password(password, stored)
    assert not verify_password("kata sandi rahasia: ij 漢字 🙂", stored)


def test_the_comparison_is_constant_time(stored, monkeypatch):
    calls = []
    real = passwords.hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", spy)
    assert not verify_password("wrong-password", stored)
    assert verify_password(PASSWORD, stored)
    assert calls == [(32, 32), (32, 32)], "both outcomes go through hmac.compare_digest"


def test_an_empty_password_is_never_hashed():
    with pytest.raises(ValueError):
        hash_password("")


def test_hashes_of_older_parameters_still_verify_and_ask_for_a_rehash():
    for n, r, p in [(2**14, 8, 1), (2**10, 8, 1), (2**4, 8, 1)]:
        old = made_with(PASSWORD, n, r, p)
        assert verify_password(PASSWORD, old)
        assert needs_rehash(old), (n, r, p)
    assert needs_rehash(cheap_hash(PASSWORD))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


SALT, KEY = b64(b"s" * 16), b64(b"k" * 32)
GARBLED = [
    None, 12345, b"scrypt$16$8$1$x$y", "", "$", "scrypt", "scrypt$$$$$", "plain-text-password", PASSWORD,
    f"bcrypt$16$8$1${SALT}${KEY}", f"SCRYPT$16$8$1${SALT}${KEY}", f"scrypt$16$8$1${SALT}",
    f"scrypt$16$8$1${SALT}${KEY}$x",
    f"scrypt$x$8$1${SALT}${KEY}", f"scrypt$16$8$1$!!!!${KEY}", f"scrypt$16$8$1${SALT}$%%%%", f"scrypt$16$8$1$${KEY}",
    f"scrypt$16$8$1${SALT}$", f"scrypt$16$8$1${SALT}${b64(b'k' * 4)}", f"scrypt$16$8$1${SALT}${b64(b'k' * 5000)}",
    f"scrypt$15$8$1${SALT}${KEY}", f"scrypt$1$8$1${SALT}${KEY}", f"scrypt$0$8$1${SALT}${KEY}",
    f"scrypt$-16$8$1${SALT}${KEY}", f"scrypt$16$0$1${SALT}${KEY}", f"scrypt$16$8$0${SALT}${KEY}",
    f"scrypt$16$-8$1${SALT}${KEY}", f"scrypt$16$8$-1${SALT}${KEY}", f"scrypt$16$8$1.5${SALT}${KEY}",
    f"scrypt${2**40}$8$1${SALT}${KEY}", f"scrypt${2**24}$8$1${SALT}${KEY}", f"scrypt$16${2**20}$1${SALT}${KEY}",
    f"scrypt$16$8${10**9}${SALT}${KEY}", f"scrypt${'9' * 5000}$8$1${SALT}${KEY}", "scrypt$16$8$1$\x00$\x00",
    f"scrypt$16$8$1${SALT}${KEY}\n", f" scrypt$16$8$1${SALT}${KEY}",
]


@pytest.mark.parametrize("garbled", GARBLED, ids=[f"garbled-{i}" for i in range(len(GARBLED))])
def test_a_garbled_or_hostile_stored_hash_never_raises_and_never_verifies(garbled):
    began = time.perf_counter()
    assert verify_password(PASSWORD, garbled) is False
    assert verify_password("", garbled) is False
    assert needs_rehash(garbled) is True
    assert passwords.describe(garbled) == "unreadable"
    assert time.perf_counter() - began < 1, "a stored hash cannot make a login burn CPU or memory"


def test_a_password_that_is_not_text_never_raises(stored):
    for odd in (None, b"demo12345", 12345):
        assert verify_password(odd, stored) is False


# --- at login -----------------------------------------------------------------------------------------------------

def stored_hash(site, username) -> str:
    with site.alur.uow(write=False) as uow:
        return uow.directory.user(username).password_hash


def set_hash(site, username, value) -> None:
    with site.alur.uow() as uow:
        uow.conn.execute(update(tables.users).where(tables.users.c.username == username).values(password_hash=value))
        uow.commit()


def rehash_events(site, username) -> list[dict]:
    with site.alur.uow(write=False) as uow:
        rows = uow.conn.execute(select(tables.audit_events).where(tables.audit_events.c.type == "password_rehashed"))
        return [json.loads(r.data_json) | {"actor": r.actor} for r in rows
                if json.loads(r.data_json).get("username") == username]


def test_an_old_hash_logs_in_and_is_upgraded_at_once_keeping_the_other_sessions(site, monkeypatch):
    monkeypatch.setitem(site.flask.config, "PASSWORD_REHASH", True)
    username = site.user(("Klien", "MALUT"))
    old = made_with(PASSWORD, 2**14, 8, 1)  # what Alur stored before
    set_hash(site, username, old)
    first = site.browser(username)
    assert first.get("/tugas").status_code == 200
    upgraded = stored_hash(site, username)
    assert upgraded != old
    assert parameters(upgraded) == (passwords.N, passwords.R, passwords.P)
    assert not needs_rehash(upgraded) and verify_password(PASSWORD, upgraded)
    [event] = rehash_events(site, username)
    assert event == {"username": username, "actor": username, "before": "scrypt n=16384 r=8 p=1",
                     "after": f"scrypt n={passwords.N} r={passwords.R} p={passwords.P}"}
    assert upgraded not in str(event) and old not in str(event)
    second = site.browser(username)  # logs in with the upgraded hash; no second upgrade
    assert stored_hash(site, username) == upgraded
    assert len(rehash_events(site, username)) == 1
    assert first.get("/tugas").status_code == 200, "an upgrade is not a new password: sessions go on"
    assert second.get("/tugas").status_code == 200


def test_a_wrong_password_never_upgrades_an_old_hash(site, monkeypatch):
    monkeypatch.setitem(site.flask.config, "PASSWORD_REHASH", True)
    username = site.user(("Klien", "MALUT"))
    old = made_with(PASSWORD, 2**10, 8, 1)
    set_hash(site, username, old)
    assert site.browser().login(username, "not-the-password").status_code == 401
    assert stored_hash(site, username) == old
    assert rehash_events(site, username) == []


@pytest.mark.parametrize("garbled", ["", "scrypt$16$8$1$!!!$???", f"scrypt${2**40}$8$1${SALT}${KEY}",
                                     "pbkdf2:sha256:600000$x$y"])
def test_an_account_with_a_garbled_hash_gets_the_wrong_password_answer_not_a_500(site, garbled):
    username = site.user(("Klien", "MALUT"))
    set_hash(site, username, garbled)
    response = site.browser().login(username, PASSWORD)
    assert response.status_code == 401
    assert stored_hash(site, username) == garbled
