"""The one real clock; every use case takes a `clock` argument defaulting to it, so tests can set the time."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
