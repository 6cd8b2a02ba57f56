"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 that records what it accepts, or refuses on demand."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller

from adapters.mail import SmtpSender

PUBLIC_URL = "https://alur.example.go.id"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """The aiosmtpd handler: keeps accepted messages; `refusal` set, it answers RCPT or DATA with it instead."""

    def __init__(self):
        self.messages = []
        self.refusal: str | None = None
        self.refuse_at = "RCPT"
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refusal and self.refuse_at == "RCPT":
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refusal and self.refuse_at == "DATA":
            return self.refusal
        # Line ends as a mail client shows them (the wire's are CRLF).
        message = BytesParser(policy=policy.default).parsebytes(envelope.content.replace(b"\r\n", b"\n"))
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


class MailServer:
    """Start, stop (the port then refuses connections), refuse or accept; and what arrived."""

    def __init__(self):
        self.handler = Recorder()
        self.port = free_port()
        self.controller = None

    def start(self) -> MailServer:
        # A new controller each time: a stopped one does not start again.
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def refuse(self, reply: str, at: str = "RCPT") -> None:
        self.handler.refusal, self.handler.refuse_at = reply, at

    def accept(self) -> None:
        self.handler.refusal = None

    @property
    def messages(self) -> list:
        with self.handler.lock:
            return list(self.handler.messages)

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def received(self) -> Counter:
        """How often each (recipient, subject) arrived: every value must be 1."""
        return Counter((m["To"], m["Subject"]) for m in self.messages)

    def sender(self, **options) -> SmtpSender:
        return SmtpSender("127.0.0.1", self.port, timeout=5, public_url=PUBLIC_URL, **options)

    def env(self) -> dict:
        return {"ALUR_SMTP_HOST": "127.0.0.1", "ALUR_SMTP_PORT": str(self.port), "ALUR_SMTP_FROM": "alur@kanwil.test",
                "ALUR_PUBLIC_URL": PUBLIC_URL + "/"}
