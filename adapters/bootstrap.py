"""Composition root: read configuration once and wire the engine to the database."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from adapters.mail import SmtpSender
from adapters.sql import POOL_SIZE, UowFactory, make_engine
from engine.services import utcnow

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Alur:
    """The wired application: database engine, unit-of-work factory, clock and e-mail sender (None: e-mail off)."""

    url: str
    engine: Engine
    uow: UowFactory
    data_dir: Path
    clock: object = field(default=utcnow)
    mailer: SmtpSender | None = None

    @property
    def sqlite_path(self) -> str | None:
        return self.engine.url.database if self.engine.dialect.name == "sqlite" else None


def database_url(env=None) -> tuple[str, Path]:
    """The configured database URL (ALUR_DATABASE_URL, else SQLite in ALUR_DATA_DIR) and the data folder."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("ALUR_DATA_DIR") or Path.cwd() / "data").resolve()
    url = env.get("ALUR_DATABASE_URL")
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{data_dir / 'alur.db'}"
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url, data_dir


def count_setting(name: str, default: int, env=None) -> int:
    """A setting that counts something (ALUR_DB_POOL_SIZE, ALUR_KEEPALIVE_REQUESTS): at least 1; `default` when
    unset or not a number."""
    env = os.environ if env is None else env
    try:
        return max(1, int(env.get(name, default)))
    except ValueError:
        return default


def pool_size(env=None) -> int:
    """ALUR_DB_POOL_SIZE; adapters.sql.POOL_SIZE when unset or not a number."""
    return count_setting("ALUR_DB_POOL_SIZE", POOL_SIZE, env)


def build(env=None) -> Alur:
    url, data_dir = database_url(env)
    mailer = SmtpSender.from_env(os.environ if env is None else env)
    engine = make_engine(url, pool_size(env))
    return Alur(url=url, engine=engine, uow=UowFactory(engine), data_dir=data_dir, mailer=mailer)


def _config():
    from alembic.config import Config  # Alembic (and Mako) only where the schema changes: every command starts faster

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


_REVISION = re.compile(r"^(down_revision|revision)(?:: [^=]+)? = (?:'([^']*)'|\"([^\"]*)\"|None)", re.M)


@cache
def schema_heads() -> frozenset[str]:
    """The newest revisions of the migrations folder: each file's `revision` that no file names as its
    `down_revision`. Read from the files' text, as Alembic's own head would be, without importing Alembic and every
    migration (tests/integration/test_schema.py compares the two)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for name, single, double in _REVISION.findall(path.read_text(encoding="utf-8")):
            value = single or double
            if value:
                (revisions if name == "revision" else parents).add(value)
    return frozenset(revisions - parents)


def schema_is_current(alur: Alur) -> bool:
    """Whether the database is at the newest migration (so this code and the schema agree)."""
    with alur.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return current == schema_heads()


def upgrade_schema(alur: Alur) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    from alembic import command

    config = _config()
    with alur.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
