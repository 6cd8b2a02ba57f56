"""`alur worker` sends the outbox's e-mail, and `alur users` manages addresses and the opt-out (real executable)."""

from __future__ import annotations

import pytest

from engine import services
from engine.passwords import hash_password
from tests.cli.test_cli import Cli, started_id
from tests.conftest import fixture_file
from tests.mailserver import PUBLIC_URL, MailServer


@pytest.fixture
def smtp():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_cli(app, database_url, tmp_path, smtp) -> Cli:
    """The CLI, SMTP configured, on office T set up in-process: ana and ira hold Pelaksana, ira turned e-mail off."""
    with app.uow() as uow:
        for name in ("ana", "ira"):
            uow.directory.add_user(name, hash_password("rahasia123"), name, f"{name}@kanwil.test", services.utcnow())
            uow.directory.grant(name, "Pelaksana", "T")
        uow.directory.set_notifications("ira", False)
        uow.commit()
    services.deploy(app.uow(), [fixture_file("decision_loop.bpmn")], office="T")  # no SLA runs out meanwhile
    cli = Cli(database_url, tmp_path / "data")
    cli.env.update(smtp.env())
    return cli


def test_the_worker_sends_pending_e_mail_once_and_says_how_many(mail_cli, smtp, app):
    cli = mail_cli
    case = started_id(cli.ok("start", "review_loop", "--as", "ana"))
    assert cli.ok("worker", "--once").splitlines() == ["fired 0 timer(s)", "sent 1 e-mail(s)"]
    [message] = smtp.messages
    [item] = cli.json("tasks", "--as", "ana")
    assert (message["To"], message["From"]) == ("ana@kanwil.test", "Alur <alur@kanwil.test>")
    assert message["Subject"].startswith("[Alur] Tugas baru: 1. Menyusun draft (")
    assert f"{PUBLIC_URL}/tugas/{item['id']}" in message.get_content()
    assert item["instance_id"] == case
    assert cli.ok("worker", "--once").strip() == "fired 0 timer(s)"
    assert len(smtp.messages) == 1


def test_a_user_who_turns_notifications_back_on_gets_mail_again(mail_cli, smtp):
    cli = mail_cli
    assert cli.ok("users", "notify", "ira", "on").strip() == "e-mail notifications on for ira"
    cli.ok("start", "review_loop", "--as", "ana")
    assert cli.ok("worker", "--once").splitlines()[-1] == "sent 2 e-mail(s)"
    assert sorted(m["To"] for m in smtp.messages) == ["ana@kanwil.test", "ira@kanwil.test"]


def test_a_refusing_mail_server_fails_no_worker_run_and_mail_waits_without_smtp_host(mail_cli, smtp):
    cli = mail_cli
    cli.ok("start", "review_loop", "--as", "ana")
    smtp.refuse("451 4.3.0 Coba lagi nanti")
    refused = cli.run("worker", "--once")
    assert (refused.code, refused.out.strip()) == (0, "fired 0 timer(s)")
    assert "451 4.3.0 Coba lagi nanti" in refused.err and "Traceback" not in refused.err

    for name in ("ALUR_SMTP_HOST", "ALUR_SMTP_PORT"):
        cli.env.pop(name)
    cli.ok("start", "review_loop", "--as", "ana")
    quiet = cli.run("worker", "--once")
    assert (quiet.code, quiet.out.strip()) == (0, "fired 0 timer(s)")
    assert "2 e-mail(s) wait in the outbox; set ALUR_SMTP_HOST to send them" in quiet.err


def test_users_get_an_address_when_added_and_bad_addresses_or_settings_are_refused_in_one_line(mail_cli):
    cli = mail_cli
    cli.ok("users", "add", "eko", "--password", "rahasia123", "--email", "eko@kanwil.test")
    listing = cli.ok("users", "list")
    assert "eko@kanwil.test (e-mail on)" in listing and "ira@kanwil.test (e-mail off)" in listing
    cli.fails("users", "add", "edi", "--password", "rahasia123", "--email", "edi at kanwil", says="is not an e-mail")
    cli.fails("users", "notify", "nobody", "off", says="No user 'nobody'")
    cli.env["ALUR_SMTP_SECURITY"] = "ssl"
    cli.fails("worker", "--once", says="ALUR_SMTP_SECURITY is 'ssl'; use none, starttls or tls")
