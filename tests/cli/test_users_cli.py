"""`alur users …` and `alur lanes …`, the real executable on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.cli.test_cli import ALUR, TWO_STEPS, Cli, assert_refused
from tests.conftest import add_office, add_user


@pytest.fixture
def users_cli(app, database_url, tmp_path) -> Cli:
    """The CLI on a database with office T (and U), T's admin `boss`, and two_steps deployed to office T."""
    add_office(app, "U", "Kantor Lain")
    add_user(app, "boss", ("admin", "T"))
    cli = Cli(database_url, tmp_path / "data")
    cli.ok("deploy", str(TWO_STEPS), "--office", "T")
    return cli


def test_the_operator_adds_grants_revokes_deactivates_and_reactivates_a_user(users_cli):
    cli = users_cli
    assert cli.ok("users", "add", "siti", "--password", "rahasia123", "--name", "Siti").strip() == "added user siti"
    assert cli.ok("users", "grant", "siti", "Klien", "--office", "T").strip() == "granted 'Klien' in T to siti"
    assert cli.ok("users", "grant", "siti", "Duta").strip() == "granted 'Duta' in every office to siti"
    assert cli.ok("users", "revoke", "siti", "Duta").strip() == "revoked 'Duta' in every office from siti"
    assert cli.ok("users", "revoke", "siti", "Duta").strip() == "siti does not hold 'Duta' in every office"
    assert "deactivated" in cli.ok("users", "deactivate", "siti")
    [line] = [x for x in cli.ok("users", "list").splitlines() if x.startswith("siti ")]
    assert line == "siti  Siti  inactive  -  Klien@T"  # the grants wait for the account's return
    assert cli.ok("users", "activate", "siti").strip() == "siti is active"
    assert "siti  Siti  active" in cli.ok("users", "list")


def test_a_password_reset_needs_eight_characters_and_reads_stdin(users_cli):
    cli = users_cli
    cli.ok("users", "add", "siti", "--password", "rahasia123")
    assert_refused(cli.run("users", "reset-password", "siti", "--password", "pendek"), "at least 8 characters")
    assert_refused(cli.run("users", "add", "sita", "--password", "pendek"), "at least 8 characters")
    assert_refused(cli.run("users", "reset-password", "siti"), "give --password or --password-stdin")
    proc = subprocess.run([str(ALUR), "users", "reset-password", "siti", "--password-stdin"], input="baru-rahasia\n",
                          env=cli.env, text=True, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "password of siti reset; their open sessions have ended"


def test_as_an_office_admin_the_cli_grants_only_roles_of_their_own_office(users_cli):
    cli = users_cli
    cli.ok("users", "add", "siti", "--password", "rahasia123")
    assert "granted 'Klien' in T" in cli.ok("users", "grant", "siti", "Klien", "--office", "T", "--as", "boss")
    assert_refused(cli.run("users", "grant", "siti", "Klien", "--office", "U", "--as", "boss"), "own office only")
    assert_refused(cli.run("users", "deactivate", "siti", "--as", "boss"), "administrator of every office")
    assert_refused(cli.run("users", "grant", "nobody", "Klien", "--office", "T"), "No user 'nobody'")


def test_lanes_lists_lane_roles_with_holders_flags_the_unheld_and_sets_a_mapping(users_cli, app):
    cli = users_cli
    add_user(app, "ana", ("Klien", "T"))
    listing = cli.ok("lanes", "two_steps")
    assert "Klien  -> Klien  holders T:1" in listing
    assert "Duta   -> Duta  holders T:0  NOBODY HOLDS THIS ROLE" in listing
    assert "1 lane(s) nobody holds" in listing
    out = cli.ok("lanes", "two_steps", "--set", "Duta=Klien")
    assert "lane 'Duta' is done by the role 'Klien'" in out and "Duta   -> Klien  (mapped)  holders T:1" in out
    [_, duta] = json.loads(cli.ok("lanes", "two_steps", "--json"))
    assert duta == {"lane": "Duta", "role": "Klien", "default": False, "holders": {"T": 1}, "unheld": False}
    assert "its default" in cli.ok("lanes", "two_steps", "--set", "Duta=")
    assert_refused(cli.run("lanes", "two_steps", "--set", "Tamu=Klien"), "no lane 'Tamu'")
    assert_refused(cli.run("lanes", "two_steps", "--set", "Duta"), "write LANE=ROLE")
    assert_refused(cli.run("lanes", "two_steps", "--set", "Duta=Klien", "--as", "boss"),
                   "administrator of every office")
    assert_refused(cli.run("lanes", "nope"), "No deployed process 'nope'")
