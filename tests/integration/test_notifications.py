"""E-mail notifications: queued in the engine's own transaction, delivered once by the worker to a real SMTP server."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from adapters import mail
from adapters.outbox import Outbox
from engine import notify, services, worklist
from engine.errors import AlurError
from engine.passwords import hash_password
from tests.conftest import add_office, fixture_file
from tests.mailserver import PUBLIC_URL, MailServer

LATER = timedelta(hours=1)  # past every SLA of the fixtures


@pytest.fixture
def smtp():
    server = MailServer().start()
    yield server
    server.stop()


def person(app, username, *grants, email=True, notifications=True) -> str:
    """A user holding (role, office) grants; returns the address (given or not)."""
    address = f"{username}@kanwil.test"
    with app.uow() as uow:
        uow.directory.add_user(username, hash_password("rahasia123"), username.title(), address if email else None,
                               services.utcnow())
        for role, office in grants:
            uow.directory.grant(username, role, office)
        if not notifications:
            uow.directory.set_notifications(username, False)
        uow.commit()
    return address


def deploy(app, name="two_steps_timer.bpmn", office="T"):
    services.deploy(app.uow(), [fixture_file(name)], office=office)


def queued(app, recipient=None, kind=None):
    with app.uow(write=False) as uow:
        return [m for m in uow.outbox.list(recipient) if kind in (None, m.kind)]


def ready(app, case_id, step=None):
    return [w for w in services.show(app.uow(write=False), case_id)["work_items"]
            if w.state == "ready" and step in (None, w.step_id)]


def soon():
    return datetime.now(UTC) + timedelta(seconds=1)


def deliver(app, server, at=None, **options) -> int:
    at = at or soon()
    return mail.send_pending(app.uow, server.sender(), clock=lambda: at, **options)


# --- who gets what ---------------------------------------------------------------------------------------------------

def test_a_ready_step_is_mailed_to_each_holder_of_its_role_who_has_an_address_and_wants_mail(app, smtp):
    deploy(app)
    ana = person(app, "ana", ("Klien", "T"))
    ani = person(app, "ani", ("Klien", None))  # a grant for every office counts too
    person(app, "eko", ("Klien", "T"), email=False)
    person(app, "ira", ("Klien", "T"), notifications=False)
    person(app, "budi", ("Duta", "T"))
    case = services.start(app.uow(), "two_steps", actor="ana")
    [item] = ready(app, case.id)

    rows = queued(app)
    assert sorted(m.recipient for m in rows) == ["ana", "ani"]
    assert {(m.kind, m.link, m.state, m.instance_id) for m in rows} == {("step_ready", f"/tugas/{item.id}", "pending",
                                                                         case.id)}
    assert deliver(app, smtp) == 2
    assert sorted(m["To"] for m in smtp.messages) == [ana, ani]
    [message] = smtp.to(ana)
    assert message["Subject"] == f"[Alur] Tugas baru: 1. A ({case.number})"
    assert message["From"] == "Alur <alur@localhost>" and message["Auto-Submitted"] == "auto-generated"
    text = message.get_content()
    assert text.startswith("Yth. Ana,\n\nAda tugas baru untuk Anda di Alur.")
    assert f"Nomor kasus : {case.number}" in text and "Kantor      : Kantor Uji" in text
    assert f"Batas waktu : {notify.local_time(item.due_at, 'Asia/Jakarta')}" in text and " WIB" in text
    assert text.rstrip().endswith(f"Buka tugas melalui tautan berikut:\n{PUBLIC_URL}/tugas/{item.id}")

    assert {(m.state, m.attempts) for m in queued(app)} == {("sent", 1)}
    assert deliver(app, smtp) == 0 and len(smtp.messages) == 2


def test_two_steps_that_become_ready_together_reach_their_holder_in_one_message(app, smtp):
    deploy(app, "parallel_review.bpmn")
    person(app, "ana", ("Klien", "T"))
    pem = person(app, "pem", ("Pemeriksa", "T"))
    case = services.start(app.uow(), "parallel_review", actor="ana")
    services.complete(app.uow(), ready(app, case.id)[0].id, actor="ana")
    assert {w.step_id for w in ready(app, case.id)} == {"Berkas", "Tanda"}

    [row] = queued(app, "pem")
    assert row.link == "/tugas"
    assert deliver(app, smtp) == 2  # ana's own first step, and pem's one message
    [message] = smtp.to(pem)
    assert message["Subject"] == f"[Alur] 2 tugas baru: {case.number} (Pemeriksaan paralel)"
    text = message.get_content()
    assert f"Ada 2 tugas baru untuk Anda pada kasus {case.number}:" in text
    assert "- 2a. Memeriksa berkas (batas waktu " in text and "- 2b. Memeriksa tanda tangan\n" in text
    assert text.rstrip().endswith(f"Buka daftar Tugas Saya melalui tautan berikut:\n{PUBLIC_URL}/tugas")


def test_an_sla_breach_goes_to_the_role_holders_and_the_office_admins_when_no_supervisor_is_named(app, smtp):
    add_office(app, "X", "Kantor Lain")
    deploy(app)
    person(app, "ana", ("Klien", "T"))
    person(app, "ani", ("Klien", "T"))
    adm = person(app, "adm", ("admin", "T"))
    person(app, "jauh", ("admin", "X"))  # an admin elsewhere is not this case's supervisor
    case = services.start(app.uow(), "two_steps", actor="ana")
    [item] = ready(app, case.id)
    later = datetime.now(UTC) + LATER
    assert services.fire_due_timers(app.uow, clock=lambda: later) == 1

    breached = {m.recipient: m for m in queued(app, kind="sla_breached")}
    assert set(breached) == {"ana", "ani", "adm"}
    assert breached["ana"].link == f"/tugas/{item.id}" and breached["adm"].link == f"/kasus/{case.id}"
    assert deliver(app, smtp, at=later) == 5  # two step_ready, three sla_breached
    [message] = smtp.to(adm)
    assert message["Subject"] == f"[Alur] Lewat batas waktu: 1. A ({case.number})"
    text = message.get_content()
    assert 'sebagai penyelia (peran "admin" di Kantor Uji)' in text
    assert 'Penanganan  : belum diambil (peran "Klien")' in text
    assert text.rstrip().endswith(f"{PUBLIC_URL}/kasus/{case.id}")


def test_an_sla_breach_of_a_claimed_step_goes_to_its_claimer_and_the_lanes_supervisor_role(app, smtp):
    deploy(app, "parallel_review.bpmn")  # names supervisor_Pemeriksa = Kepala
    person(app, "ana", ("Klien", "T"))
    pem1 = person(app, "pem1", ("Pemeriksa", "T"))
    person(app, "pem2", ("Pemeriksa", "T"))
    kep = person(app, "kep", ("Kepala", "T"))
    person(app, "adm", ("admin", "T"))
    case = services.start(app.uow(), "parallel_review", actor="ana")
    services.complete(app.uow(), ready(app, case.id)[0].id, actor="ana")
    [berkas] = ready(app, case.id, "Berkas")
    worklist.claim(app.uow(), berkas.id, actor="pem1")
    later = datetime.now(UTC) + LATER
    assert services.fire_due_timers(app.uow, clock=lambda: later) == 1

    assert sorted(m.recipient for m in queued(app, kind="sla_breached")) == ["kep", "pem1"]
    deliver(app, smtp, at=later)
    [to_claimer] = [m for m in smtp.to(pem1) if "Lewat batas waktu" in m["Subject"]]
    assert "Penanganan  : diambil oleh pem1" in to_claimer.get_content()
    assert "karena Anda mengambil langkah ini" in to_claimer.get_content()
    [to_supervisor] = smtp.to(kep)
    assert 'sebagai penyelia (peran "Kepala" di Kantor Uji)' in to_supervisor.get_content()


def test_a_completed_case_is_reported_to_whoever_started_it_and_to_nobody_who_turned_mail_off(app, smtp):
    deploy(app)
    ana = person(app, "ana", ("Klien", "T"))
    person(app, "budi", ("Duta", "T"))
    person(app, "ira", ("Klien", "T"), ("Duta", "T"), notifications=False)
    cases = [services.start(app.uow(), "two_steps", actor=who) for who in ("ana", "ira")]
    for case in cases:
        services.complete(app.uow(), ready(app, case.id)[0].id, actor="ana")
        services.complete(app.uow(), ready(app, case.id)[0].id, actor="budi")

    [done] = queued(app, kind="case_completed")
    assert (done.recipient, done.link) == ("ana", f"/kasus/{cases[0].id}")
    assert queued(app, "ira") == []
    deliver(app, smtp)
    [message] = [m for m in smtp.to(ana) if "selesai" in m["Subject"]]
    assert message["Subject"] == f"[Alur] Kasus selesai: {cases[0].number} (two_steps)"
    assert "Kasus yang Anda mulai telah selesai diproses." in message.get_content()


def test_due_times_are_written_in_the_offices_own_zone():
    moment = datetime(2026, 3, 2, 7, 5, tzinfo=UTC)
    assert notify.local_time(moment, "Asia/Makassar") == "Senin, 2 Maret 2026 pukul 15.05 WITA"
    assert notify.local_time(moment, "Asia/Jayapura") == "Senin, 2 Maret 2026 pukul 16.05 WIT"
    assert notify.local_time(moment, "Asia/Jakarta").endswith("pukul 14.05 WIB")


def test_the_same_event_never_queues_the_same_message_twice(app):
    deploy(app)
    person(app, "ana", ("Klien", "T"))
    case = services.start(app.uow(), "two_steps", actor="ana")
    with app.uow() as uow:
        instance = uow.instances.get(case.id)
        notify.steps_ready(uow, instance, uow.work_items.open_for_instance(case.id), services.utcnow())
        uow.commit()
    assert len(queued(app)) == 1


# --- delivery --------------------------------------------------------------------------------------------------------

def test_a_refusing_server_then_a_recovered_one_loses_nothing_and_doubles_nothing(app, smtp):
    deploy(app)
    person(app, "ana", ("Klien", "T"))
    person(app, "ani", ("Klien", "T"))
    services.start(app.uow(), "two_steps", actor="ana")
    t0 = soon()

    smtp.refuse("451 4.3.0 Coba lagi nanti")
    assert deliver(app, smtp, at=t0) == 0
    assert {(m.state, m.attempts, m.next_attempt_at, m.last_error) for m in queued(app)} == {
        ("pending", 1, t0 + timedelta(seconds=30), "451 4.3.0 Coba lagi nanti")}
    assert deliver(app, smtp, at=t0 + timedelta(seconds=29)) == 0  # backing off: not tried again yet
    assert {m.attempts for m in queued(app)} == {1}

    smtp.refuse("554 5.7.1 Ditolak", at="DATA")
    t1 = t0 + timedelta(seconds=30)
    assert deliver(app, smtp, at=t1) == 0
    assert {(m.attempts, m.next_attempt_at, m.last_error) for m in queued(app)} == {
        (2, t1 + timedelta(seconds=60), "554 5.7.1 Ditolak")}

    smtp.accept()
    assert deliver(app, smtp, at=t1 + timedelta(seconds=60)) == 2
    assert deliver(app, smtp, at=t1 + LATER) == 0
    assert sorted(smtp.received().values()) == [1, 1]
    assert {(m.state, m.attempts) for m in queued(app)} == {("sent", 3)}


def test_engine_transactions_succeed_while_the_mail_server_is_down_and_the_mail_follows_later(app, smtp):
    deploy(app)
    ana = person(app, "ana", ("Klien", "T"))
    budi = person(app, "budi", ("Duta", "T"))
    smtp.stop()
    case = services.start(app.uow(), "two_steps", actor="ana")
    services.complete(app.uow(), ready(app, case.id)[0].id, actor="ana")
    assert [w.step_id for w in ready(app, case.id)] == ["B"]

    t0 = soon()
    assert deliver(app, smtp, at=t0) == 0
    rows = queued(app)
    assert len(rows) == 2 and {(m.state, m.attempts) for m in rows} == {("pending", 1)}
    assert all("ConnectionRefusedError" in m.last_error for m in rows)

    smtp.start()
    assert deliver(app, smtp, at=t0 + timedelta(seconds=30)) == 2
    assert sorted(m["To"] for m in smtp.messages) == [ana, budi]


def test_a_message_is_given_up_after_ten_attempts_spaced_by_a_growing_backoff(app, smtp):
    deploy(app)
    person(app, "ana", ("Klien", "T"))
    services.start(app.uow(), "two_steps", actor="ana")
    smtp.refuse("451 4.3.0 Coba lagi nanti")
    at, waits = soon(), []
    for _ in range(10):
        assert deliver(app, smtp, at=at) == 0
        [row] = queued(app)
        if row.state == "pending":
            waits.append(int((row.next_attempt_at - at).total_seconds()))
            at = row.next_attempt_at
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    [row] = queued(app)
    assert (row.state, row.attempts, row.last_error) == ("failed", 10, "451 4.3.0 Coba lagi nanti")
    smtp.accept()
    assert deliver(app, smtp, at=at + LATER * 24) == 0 and smtp.messages == []


def test_a_send_the_database_failed_to_record_is_recorded_later_and_not_sent_again(app, smtp, monkeypatch, caplog):
    deploy(app)
    person(app, "ana", ("Klien", "T"))
    person(app, "ani", ("Klien", "T"))
    services.start(app.uow(), "two_steps", actor="ana")
    broken = {"on": True}
    mark_sent = Outbox.mark_sent

    def flaky(self, message_id, now):
        if broken["on"]:
            raise OperationalError("UPDATE outbox", {}, Exception("server closed the connection"))
        mark_sent(self, message_id, now)

    monkeypatch.setattr(Outbox, "mark_sent", flaky)
    at = soon()
    postman = mail.Postman(app.uow, smtp.sender(), clock=lambda: at)
    with caplog.at_level(logging.WARNING, logger="alur.mail"):
        assert postman.round() == 0  # the first send went out; recording it failed, so the batch stopped
    assert len(smtp.messages) == 1 and "sending e-mail failed" in caplog.text
    assert {m.state for m in queued(app)} == {"sending"}

    broken["on"] = False
    assert postman.round() == 0  # records the earlier send; the other message waits for its lease
    assert sorted(m.state for m in queued(app)) == ["sending", "sent"]
    at += mail.LEASE
    assert postman.round() == 1
    assert sorted(smtp.received().values()) == [1, 1]
    assert {m.state for m in queued(app)} == {"sent"}


def test_without_an_smtp_host_mail_stays_pending_said_once_and_goes_out_when_smtp_is_configured(app, smtp, caplog):
    deploy(app)
    person(app, "ana", ("Klien", "T"))
    services.start(app.uow(), "two_steps", actor="ana")
    postman = mail.Postman(app.uow, None)
    with caplog.at_level(logging.WARNING, logger="alur.mail"):
        assert postman.round() == 0 and postman.round() == 0
    assert caplog.text.count("1 e-mail(s) wait in the outbox; set ALUR_SMTP_HOST") == 1
    assert {(m.state, m.attempts) for m in queued(app)} == {("pending", 0)}
    at = soon()
    assert mail.Postman(app.uow, smtp.sender(), clock=lambda: at).round() == 1


def test_two_senders_at_once_deliver_every_message_exactly_once(app, smtp):
    deploy(app)
    for name in ("ana", "ani", "anu", "ayu"):
        person(app, name, ("Klien", "T"))
    for _ in range(5):
        services.start(app.uow(), "two_steps", actor="ana")
    assert len(queued(app)) == 20
    at = soon()
    totals = []

    def worker():
        postman, sent = mail.Postman(app.uow, smtp.sender(), clock=lambda: at), 0
        for _ in range(100):
            n = postman.round(limit=3)
            sent += n
            if not n and all(m.state != "pending" for m in queued(app)):
                break
        totals.append(sent)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(totals) == 20 and len(smtp.messages) == 20
    assert set(smtp.received().values()) == {1}


# --- configuration ---------------------------------------------------------------------------------------------------

def test_the_sender_is_configured_from_the_environment_and_off_without_a_host():
    assert mail.SmtpSender.from_env({}) is None
    sender = mail.SmtpSender.from_env({"ALUR_SMTP_HOST": "mail.kanwil.test", "ALUR_SMTP_SECURITY": "STARTTLS",
                                       "ALUR_SMTP_USERNAME": "alur", "ALUR_SMTP_PASSWORD": "rahasia",
                                       "ALUR_PUBLIC_URL": "https://alur.kanwil.test/"})
    assert (sender.port, sender.security, sender.sender, sender.public_url) == (
        587, "starttls", "alur@localhost", "https://alur.kanwil.test")
    assert "rahasia" not in repr(sender)
    assert mail.SmtpSender.from_env({"ALUR_SMTP_HOST": "h"}).port == 25
    with pytest.raises(AlurError, match="ALUR_SMTP_SECURITY is 'ssl'; use none, starttls or tls"):
        mail.SmtpSender.from_env({"ALUR_SMTP_HOST": "h", "ALUR_SMTP_SECURITY": "ssl"})
    with pytest.raises(AlurError, match="ALUR_SMTP_PORT is 'x', not a number"):
        mail.SmtpSender.from_env({"ALUR_SMTP_HOST": "h", "ALUR_SMTP_PORT": "x"})
