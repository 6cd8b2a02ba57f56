"""Composition root: read configuration once and wire the engine to the database."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from adapters.mail import SmtpSender
from adapters.sql import UowFactory, make_engine
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


def build(env=None) -> Alur:
    url, data_dir = database_url(env)
    mailer = SmtpSender.from_env(os.environ if env is None else env)
    engine = make_engine(url)
    return Alur(url=url, engine=engine, uow=UowFactory(engine), data_dir=data_dir, mailer=mailer)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_is_current(alur: Alur) -> bool:
    """Whether the database is at the newest migration (so this code and the schema agree)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(_config()).get_heads())
    with alur.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


def upgrade_schema(alur: Alur) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    config = _config()
    with alur.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
