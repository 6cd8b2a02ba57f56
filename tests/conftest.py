"""Shared fixtures: a fresh Alur database on SQLite and on PostgreSQL for every persistence test."""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from adapters import bootstrap
from adapters.sql import Office
from engine import services
from engine.passwords import hash_password

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
POSTGRES_URL = os.environ.get("ALUR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as err:  # noqa: BLE001 - any failure means "no server"
        return f"{type(err).__name__}: {err}".splitlines()[0]


@pytest.fixture(scope="session")
def postgres_schema_factory():
    """Creates throwaway PostgreSQL schemas and drops them at the end of the session."""
    reason = _postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    created = []

    def make() -> str:
        name = f"alur_t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        created.append(name)
        return f"{POSTGRES_URL}?options=-csearch_path%3D{name}"

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alur.db'}"
    return request.getfixturevalue("postgres_schema_factory")()


def make_app(url, tmp_path):
    app = bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(tmp_path / "data")})
    bootstrap.upgrade_schema(app)
    return app


@functools.cache
def _hashed(password: str) -> str:
    return hash_password(password)  # one real scrypt per password for the whole session


def add_user(app, username, *grants, password="rahasia123"):
    """Create a user holding (role, office) grants."""
    with app.uow() as uow:
        uow.directory.add_user(username, _hashed(password), username, None, services.utcnow())
        for role, office in grants:
            uow.directory.grant(username, role, office)
        uow.commit()


def add_office(app, code, name, timezone="Asia/Jakarta", time_mode="elapsed"):
    """Create (or update) an office."""
    with app.uow() as uow:
        uow.directory.add_office(Office(code, name, timezone, time_mode))
        uow.commit()


@pytest.fixture
def app(database_url, tmp_path):
    """A wired Alur on a fresh database with one elapsed-time test office."""
    alur = make_app(database_url, tmp_path)
    add_office(alur, "T", "Kantor Uji")
    yield alur
    alur.engine.dispose()


def fixture_file(name) -> tuple[str, bytes]:
    path = FIXTURES / name
    return (str(path), path.read_bytes())
