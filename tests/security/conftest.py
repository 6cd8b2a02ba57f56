"""The security suite runs against the same seeded site as the web tests (one per module, SQLite and PostgreSQL)."""

from tests.web.conftest import site  # noqa: F401 - the fixture, shared
