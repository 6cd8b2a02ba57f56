"""E-mail: the SMTP sender, and delivery of the outbox's due messages (run by the worker, never by a request)."""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from engine.errors import AlurError
from engine.services import utcnow

log = logging.getLogger("alur.mail")

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
SECURITY_PORTS = {"none": 25, "starttls": 587, "tls": 465}
MAX_ATTEMPTS = 10
# A claim lasts this long; a batch stops sending at half of it, so no other worker can take a message it may send.
LEASE = timedelta(minutes=10)
RECORD_TRIES = 3
# The server refused this one message; the session goes on with the next.
MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError, ValueError)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: 30 s, 1 min, 2 min, … at most 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass(frozen=True)
class SmtpSender:
    """An SMTP server to send through (security: none, starttls or tls) and how messages are written."""

    host: str
    port: int = 25
    security: str = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "alur@localhost"
    timeout: float = 10.0
    public_url: str = DEFAULT_PUBLIC_URL

    @classmethod
    def from_env(cls, env=None) -> SmtpSender | None:
        """The sender ALUR_SMTP_* configures; None (e-mail off) without ALUR_SMTP_HOST."""
        env = os.environ if env is None else env
        host = (env.get("ALUR_SMTP_HOST") or "").strip()
        if not host:
            return None
        security = (env.get("ALUR_SMTP_SECURITY") or "none").strip().lower()
        if security not in SECURITY_PORTS:
            raise AlurError(f"ALUR_SMTP_SECURITY is '{security}'; use none, starttls or tls.")
        return cls(host=host, port=_number(env, "ALUR_SMTP_PORT", SECURITY_PORTS[security], int),
                   security=security, username=env.get("ALUR_SMTP_USERNAME") or None,
                   password=env.get("ALUR_SMTP_PASSWORD") or None,
                   sender=(env.get("ALUR_SMTP_FROM") or "alur@localhost").strip(),
                   timeout=_number(env, "ALUR_SMTP_TIMEOUT", 10.0, float),
                   public_url=(env.get("ALUR_PUBLIC_URL") or DEFAULT_PUBLIC_URL).strip().rstrip("/"))

    def open(self) -> smtplib.SMTP:
        """One session with the server (every network step limited by `timeout`)."""
        context = ssl.create_default_context()
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def compose(self, message) -> EmailMessage:
        """The e-mail of an outbox message: its body, then its link made absolute."""
        mail = EmailMessage()
        mail["From"] = formataddr(("Alur", self.sender))
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(message.created_at)
        # Stable across retries, so a client can recognise the copy a crash may cause (see README).
        digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:20]
        mail["Message-ID"] = f"<alur.{message.id}.{digest}@{self.sender.rpartition('@')[2] or 'localhost'}>"
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a robot
        link = f"{self.public_url}{message.link}" if message.link else self.public_url
        mail.set_content(f"{message.body}\n{link}\n")
        return mail

    def send(self, smtp: smtplib.SMTP, message) -> None:
        smtp.send_message(self.compose(message), from_addr=self.sender, to_addrs=[message.address])


def _number(env, name, default, kind):
    text = (env.get(name) or "").strip()
    try:
        return kind(text) if text else default
    except ValueError as err:
        raise AlurError(f"{name} is '{text}', not a number.") from err


def send_pending(uow_factory, sender: SmtpSender, *, clock=utcnow, limit: int = 50, unrecorded=None) -> int:
    """Send due messages over one SMTP session; return how many the server accepted.

    `unrecorded` (a dict the caller keeps between calls) remembers sends the database failed to record, so they
    are recorded, not sent again, on the next call.
    """
    if unrecorded:
        _retrying(lambda: _mark_sent(uow_factory, unrecorded))
        unrecorded.clear()
    started = clock()
    with uow_factory() as uow:
        batch = uow.outbox.claim(started, limit, started + LEASE)
        uow.commit()
    if not batch:
        return 0
    return _deliver(uow_factory, sender, batch, clock, started + LEASE / 2, {} if unrecorded is None else unrecorded)


def _deliver(uow_factory, sender, batch, clock, deadline, unrecorded) -> int:
    sent, smtp = 0, None
    try:
        for index, message in enumerate(batch):
            if clock() >= deadline:
                _release(uow_factory, batch[index:], clock())
                break
            try:
                smtp = smtp or sender.open()
                sender.send(smtp, message)
            except MESSAGE_REFUSED as err:
                _record_failures(uow_factory, [message], err, clock())
                continue
            except (OSError, smtplib.SMTPException) as err:
                # Unreachable, timed out or hung up: the rest would fail the same way now, so they wait too.
                _record_failures(uow_factory, batch[index:], err, clock())
                break
            sent += 1
            unrecorded[message.id] = clock()
            _retrying(lambda: _mark_sent(uow_factory, unrecorded))  # raises: the rest stay claimed until the lease
            unrecorded.clear()
    finally:
        _close(smtp)
    return sent


def _mark_sent(uow_factory, sent: dict) -> None:
    with uow_factory() as uow:
        for message_id, at in sent.items():
            uow.outbox.mark_sent(message_id, at)
        uow.commit()


def _release(uow_factory, messages, now) -> None:
    ids = [m.id for m in messages]
    _settle(uow_factory, lambda uow: uow.outbox.release(ids, now))


def _record_failures(uow_factory, messages, err, now) -> None:
    error = describe(err)
    given_up = [m for m in messages if m.attempts >= MAX_ATTEMPTS]
    for m in given_up:
        log.warning("e-mail %s to %s failed %d times and is given up: %s", m.id, m.address, m.attempts, error)
    if len(given_up) < len(messages):
        log.warning("e-mail not sent, %d message(s) will be tried again later: %s", len(messages) - len(given_up),
                    error)

    def record(uow):
        for m in messages:
            uow.outbox.mark_failed(m.id, error, None if m in given_up else now + backoff(m.attempts))

    _settle(uow_factory, record)


def _settle(uow_factory, change) -> None:
    def run():
        with uow_factory() as uow:
            change(uow)
            uow.commit()

    _retrying(run)


def _retrying(step):
    """A database write after a send: a brief outage must not turn into a second copy of the message."""
    for attempt in range(RECORD_TRIES):
        try:
            return step()
        except Exception:
            if attempt == RECORD_TRIES - 1:
                raise
            time.sleep(0.2 * 2 ** attempt)


def describe(err: BaseException) -> str:
    """One line saying why a send failed, with the server's reply when there was one."""
    if isinstance(err, smtplib.SMTPRecipientsRefused) and err.recipients:
        code, reply = next(iter(err.recipients.values()))
        return f"{code} {_text(reply)}"
    if isinstance(err, smtplib.SMTPResponseException):
        return f"{err.smtp_code} {_text(err.smtp_error)}"
    return f"{type(err).__name__}: {err}".splitlines()[0]


def _text(reply) -> str:
    return (reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)).replace("\n", " ")


def _close(smtp) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class Postman:
    """The worker's e-mail round: send when SMTP is configured, else say once that messages are waiting."""

    def __init__(self, uow_factory, sender: SmtpSender | None, clock=utcnow):
        self.uow_factory, self.sender, self.clock = uow_factory, sender, clock
        self.unrecorded: dict = {}
        self.warned = False

    def round(self, limit: int = 50) -> int:
        """Send what is due; an error is logged, never raised, so the worker's loop goes on."""
        try:
            if self.sender is None:
                self._warn_disabled()
                return 0
            return send_pending(self.uow_factory, self.sender, clock=self.clock, limit=limit,
                                unrecorded=self.unrecorded)
        except Exception as err:
            log.warning("sending e-mail failed, will try again: %s", describe(err))
            log.debug("sending e-mail failed", exc_info=True)
            return 0

    def _warn_disabled(self) -> None:
        if self.warned:
            return
        with self.uow_factory(write=False) as uow:
            waiting = uow.outbox.count("pending")
        if waiting:
            # Kept pending, not dropped: configuring SMTP later sends them.
            log.warning("%d e-mail(s) wait in the outbox; set ALUR_SMTP_HOST to send them", waiting)
            self.warned = True
