"""Notifications: which messages a change produces, written to the outbox in the change's own transaction."""

from __future__ import annotations


def steps_ready(uow, instance, items, now) -> None:
    """New work items became ready (to the holders of each item's role in the case's office)."""


def sla_breached(uow, instance, item, step, now) -> None:
    """A step overran its standard time (to its claimer or the role's holders, and the supervisor role)."""


def case_completed(uow, instance, now) -> None:
    """A case reached its end (to whoever started it)."""
