"""Queueing e-mail: add() and the one-statement add_many() queue a dedupe_key once and say whether they did."""

from __future__ import annotations

from engine import services
from engine.model import OutboxMessage


def message(key: str, now, address="ana@kanwil.test") -> OutboxMessage:
    return OutboxMessage(kind="sla_breached", recipient="ana", address=address, subject=f"[Alur] {key}",
                         body="Yth. Ana,", link="/tugas/x", dedupe_key=key, created_at=now)


def test_add_many_queues_new_messages_once_and_skips_known_keys(app):
    now = services.utcnow()
    with app.uow() as uow:
        assert uow.outbox.add(message("a", now))
        assert uow.outbox.add_many([message("a", now), message("b", now), message("c", now)]) == 2
        assert uow.outbox.add_many([]) == 0
        assert not uow.outbox.add(message("b", now))  # said False for new ones too on PostgreSQL before
        uow.commit()
    with app.uow(write=False) as uow:
        queued = uow.outbox.list()
    assert [m.dedupe_key for m in queued] == ["a", "b", "c"]
    assert all(m.state == "pending" and m.next_attempt_at == now for m in queued)
