"""Fixtures of the web UI tests: one seeded Alur and Flask app per test module, on SQLite and on PostgreSQL.

Seeding costs a scrypt hash per demo account; the fixture stores one cheap hash of the demo password for all of
them, so a seeded site takes a tenth of a second. Tests of a module share its database: each test starts its own
cases, and makes its own offices and accounts (`site.office()`, `site.user(...)`) where it counts what an inbox
shows or records failed logins.
"""

from __future__ import annotations

import pytest

from adapters import demo
from tests.conftest import make_app
from tests.web.helpers import PASSWORD_HASH, Site
from webui import create_app

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test",
    "MAX_UPLOAD_MB": 1,
    # Every test client comes from 127.0.0.1: the per-address limit would mix up the tests; one test sets it.
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 100_000,
    # The accounts hold cheap hashes on purpose; upgrading them at login would make every later login cost a real
    # scrypt. tests/security/test_passwords.py turns it on.
    "PASSWORD_REHASH": False,
}


def build_site(url, folder, backend, **config) -> Site:
    alur = make_app(url, folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "hash_password", lambda password: PASSWORD_HASH)
        demo.seed(alur)
    files = folder / "files"
    flask = create_app({**TEST_CONFIG, "ATTACHMENTS_DIR": str(files), **config}, alur=alur)
    return Site(alur, flask, backend, files)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    """A seeded site shared by the tests of one module, on each backend."""
    folder = tmp_path_factory.mktemp(f"web-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'alur.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_factory")()
    built = build_site(url, folder, request.param)
    yield built
    built.alur.engine.dispose()
