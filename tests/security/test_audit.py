"""The audit trail is append-only through every interface, and every admin action is in it.

- The database refuses UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit_events itself (migration 0006), on any
  connection and inside transactions, which then roll back cleanly; appending still works.
- The code has no way to change or remove an audit row: the repository only adds and reads.
- Every POST endpoint of the web app (generated from its URL map) and every command of the CLI (generated from its
  parser) is performed once; the rows present before are byte-identical after, and each admin action wrote its
  event, naming the actor and the object it changed.
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from adapters import bootstrap, cli
from adapters.sql import Audit
from engine import caseadmin, drafts, services, versions, worklist
from engine.model import AuditEvent
from tests.conftest import FIXTURES, ROOT
from tests.web.helpers import SOP000, unique
from tests.web.helpers import text as page_text

MESSAGE = importlib.import_module("adapters.migrations.versions.0006_audit_append_only").MESSAGE
REFUSED = re.escape(MESSAGE)
ADMIN = "admin"
TWO_STEPS = FIXTURES / "two_steps_timer.bpmn"
SNAPSHOT = text("SELECT id, instance_id, at, actor, type, step_id, data_json FROM audit_events ORDER BY id")


# --- reading the trail --------------------------------------------------------------------------------------------

def snapshot(site) -> dict[int, tuple]:
    """Every audit row as the database returns it, by id."""
    with site.alur.engine.connect() as conn:
        return {row[0]: tuple(row) for row in conn.execute(SNAPSHOT)}


def events_after(site, last_id: int) -> list[AuditEvent]:
    with site.alur.uow(write=False) as uow:
        return [e for e in uow.audit.all() if e.id > last_id]


def add_event(site, kind="test_event", **data) -> None:
    with site.alur.uow() as uow:
        uow.audit.add(AuditEvent(None, services.utcnow(), "tester", kind, data=data))
        uow.commit()


# --- the database refuses changes -----------------------------------------------------------------------------------

FORGED = ("(id, at, actor, type, data_json) VALUES ((SELECT MIN(id) FROM audit_events), '2020-01-01 00:00:00', "
          "'mallory', 'forged', '{}')")
STATEMENTS = {
    "update": "UPDATE audit_events SET actor = 'mallory'",
    "update-one": "UPDATE audit_events SET data_json = '{}' WHERE id = (SELECT MAX(id) FROM audit_events)",
    "delete": "DELETE FROM audit_events",
    "delete-one": "DELETE FROM audit_events WHERE id = (SELECT MIN(id) FROM audit_events)",
    "upsert": f"INSERT INTO audit_events {FORGED} ON CONFLICT (id) DO UPDATE SET actor = 'mallory'",
}
# SQLite's REPLACE deletes the row of the same id without firing DELETE triggers: 0006 refuses reusing an id.
SQLITE_REPLACE = {"insert-or-replace": f"INSERT OR REPLACE INTO audit_events {FORGED}",
                  "replace-into": f"REPLACE INTO audit_events {FORGED}"}


@pytest.mark.parametrize("statement", list(STATEMENTS), ids=list(STATEMENTS))
def test_raw_sql_cannot_change_or_remove_audit_rows(site, statement):
    add_event(site)
    before = snapshot(site)
    with site.alur.engine.connect() as conn:
        with pytest.raises(DBAPIError, match=REFUSED):
            conn.execute(text(STATEMENTS[statement]))
        conn.rollback()
    assert snapshot(site) == before


def test_postgresql_refuses_truncate_and_sqlite_a_delete_without_where(site):
    add_event(site)
    before = snapshot(site)
    statement = "TRUNCATE audit_events" if site.backend == "postgresql" else "DELETE FROM audit_events"
    with site.alur.engine.connect() as conn:
        with pytest.raises(DBAPIError, match=REFUSED):
            conn.execute(text(statement))
        conn.rollback()
    if site.backend == "postgresql":
        with site.alur.engine.connect() as conn, pytest.raises(DBAPIError, match=REFUSED):
            conn.execute(text("TRUNCATE audit_events CASCADE"))
    assert snapshot(site) == before


def test_an_insert_cannot_replace_an_audit_row(site):
    add_event(site)
    before = snapshot(site)
    statements = SQLITE_REPLACE.values() if site.backend == "sqlite" else [STATEMENTS["upsert"]]
    with site.alur.engine.connect() as conn:
        for statement in statements:
            with pytest.raises(DBAPIError, match=REFUSED):
                conn.execute(text(statement))
            conn.rollback()
        conn.commit()
    add_event(site)  # a new row is still welcome
    after = snapshot(site)
    assert {k: v for k, v in after.items() if k in before} == before and len(after) == len(before) + 1


def test_a_fresh_dbapi_connection_is_refused_too(site):
    """Not Alur's engine, its pool or its settings: a new driver connection of whoever holds the database URL."""
    add_event(site)
    before = snapshot(site)
    engine = create_engine(site.alur.url, poolclass=NullPool)
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement in ("UPDATE audit_events SET actor = NULL", "DELETE FROM audit_events WHERE id > 0"):
                with pytest.raises(Exception, match=REFUSED) as refused:
                    cursor.execute(statement)
                assert type(refused.value).__module__.split(".")[0] in ("sqlite3", "psycopg")
                raw.rollback()
            cursor.execute("SELECT COUNT(*) FROM audit_events")
            assert cursor.fetchone()[0] == len(before)
        finally:
            raw.close()
    finally:
        engine.dispose()
    assert snapshot(site) == before


def test_a_refused_change_rolls_its_transaction_back_cleanly_and_appending_still_works(site):
    add_event(site)
    before = snapshot(site)
    marker = unique("rolled-back-")
    with site.alur.engine.connect() as conn:
        tx = conn.begin()
        Audit(conn).add(AuditEvent(None, services.utcnow(), "tester", "test_event", data={"marker": marker}))
        with pytest.raises(DBAPIError, match=REFUSED):
            conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE actor = 'tester'"))
        tx.rollback()
        assert conn.execute(text("SELECT 1")).scalar_one() == 1  # the connection is usable again
    assert snapshot(site) == before, "the row added in the refused transaction is gone, the others unchanged"

    kept = unique("kept-")
    with site.alur.engine.connect() as conn:
        tx = conn.begin()
        savepoint = conn.begin_nested()
        with pytest.raises(DBAPIError, match=REFUSED):
            conn.execute(text("DELETE FROM audit_events"))
        savepoint.rollback()
        Audit(conn).add(AuditEvent(None, services.utcnow(), "tester", "test_event", data={"marker": kept}))
        tx.commit()
    after = snapshot(site)
    assert {k: v for k, v in after.items() if k in before} == before
    [added] = [row for key, row in after.items() if key not in before]
    assert kept in added[-1] and marker not in added[-1]


def test_the_triggers_come_off_with_a_downgrade_of_0006_and_back_with_the_upgrade(app):
    def migrate(action, target):
        config = bootstrap._config()
        with app.engine.begin() as conn:
            config.attributes["connection"] = conn
            getattr(command, action)(config, target)

    with app.uow() as uow:
        uow.audit.add(AuditEvent(None, services.utcnow(), "tester", "test_event", data={}))
        uow.commit()
    update = text("UPDATE audit_events SET actor = 'changed'")
    with app.engine.connect() as conn, pytest.raises(DBAPIError, match=REFUSED):
        conn.execute(update)
    migrate("downgrade", "0005")
    assert not bootstrap.schema_is_current(app)
    with app.engine.begin() as conn:  # without the triggers the table is an ordinary one
        assert conn.execute(update).rowcount == 1
    migrate("upgrade", "head")
    assert bootstrap.schema_is_current(app)
    with app.engine.connect() as conn:
        for statement in ("UPDATE audit_events SET actor = 'again'", "DELETE FROM audit_events"):
            with pytest.raises(DBAPIError, match=REFUSED):
                conn.execute(text(statement))
            conn.rollback()
        assert conn.execute(text("SELECT actor FROM audit_events")).scalars().all() == ["changed"]


# --- the code has no way to change the trail ------------------------------------------------------------------------

CHANGES_AUDIT = re.compile(
    r"(?:update|delete)\(\s*(?:t\.|tables\.)?audit_events\b"  # update(t.audit_events) / delete(audit_events)
    r"|audit_events\.(?:update|delete)\("  # t.audit_events.update()
    r"|\b(?:UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+\"?audit_events\b",  # raw SQL
    re.IGNORECASE)


def test_no_code_updates_or_deletes_audit_rows():
    offending = []
    for folder in ("adapters", "engine", "webui", "forms"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # the migrations create the triggers that refuse exactly this
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if CHANGES_AUDIT.search(line):
                    offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offending == []
    assert CHANGES_AUDIT.search("self.conn.execute(delete(t.audit_events).where(x))"), "the pattern still bites"


def test_the_audit_repository_only_adds_and_reads():
    public = {name for name in dir(Audit) if not name.startswith("_")}
    assert public == {"add", "for_instance", "all"}
    ports = importlib.import_module("engine.ports")
    assert {name for name in dir(ports.Audit) if not name.startswith("_")} <= {"add", "for_instance", "all"}


# --- every web POST endpoint, performed once ----------------------------------------------------------------------

@dataclass
class Expect:
    """An audit event the action must write: its type, actor, case (None: no case) and data items."""

    type: str
    actor: str | None
    instance_id: int | None = None
    data: dict = field(default_factory=dict)

    def found_in(self, new: list[AuditEvent]) -> bool:
        return any(e.type == self.type and e.actor == self.actor and e.instance_id == self.instance_id
                   and all(e.data.get(k) == v for k, v in self.data.items()) for e in new)


class Watch:
    """Snapshots the trail when the action starts; afterwards the old rows must be byte-identical."""

    def __init__(self, site):
        self.site = site
        self.before: dict | None = None

    def start(self):
        self.before = snapshot(self.site)

    def new_events(self) -> list[AuditEvent]:
        assert self.before is not None, "the recipe never started the watch"
        after = snapshot(self.site)
        assert {k: v for k, v in after.items() if k in self.before} == self.before, "an audit row changed"
        assert set(self.before) <= set(after), "an audit row disappeared"
        return events_after(self.site, max(self.before, default=0))


def two_steps(key: str, step_b: str = "2. B") -> bytes:
    return TWO_STEPS.read_bytes().replace(b'id="two_steps"', f'id="{key}"'.encode()) \
        .replace(b'name="2. B"', f'name="{step_b}"'.encode())


def deploy_process(site, office: str, versions_count: int = 1) -> str:
    """A fresh two-step process of `office` (lanes Klien and Duta) with 1 or 2 versions."""
    key = unique("audit_proc_")
    for number in range(1, versions_count + 1):
        services.deploy(site.alur.uow(), [(f"{key}.bpmn", two_steps(key, f"2. B v{number}"))], actor=ADMIN,
                        office=office, note=f"v{number}")
    return key


def started_case(site):
    """A fresh SOP 000 case of MALUT, its first step ready for klien.malut."""
    instance = site.start(SOP000, "klien.malut")
    return instance, site.only_ready(instance.id)


def admin(site):
    return site.browser(ADMIN)


def _case_action(path, kind, prepare=None):
    def recipe(site, watch):
        instance, _ = started_case(site)
        if prepare:
            prepare(site.alur.uow(), instance.id, actor=ADMIN, reason="disiapkan")
        browser = admin(site)
        watch.start()
        response = browser.post(f"/kasus/{instance.id}/{path}", {"reason": "Berkas <b>kurang</b>"})
        return response, [Expect(kind, ADMIN, instance.id, {"reason": "Berkas <b>kurang</b>"})]
    return recipe


def r_lane_role_save(site, watch):
    key = deploy_process(site, site.office())
    browser, role = admin(site), unique("Peran")
    watch.start()
    response = browser.post(f"/kelola/proses/{key}/peran", {"lane": "Duta", "role": role})
    return response, [Expect("lane_role_changed", ADMIN, None, {"key": key, "lane": "Duta", "role": role})]


def r_migration_run(site, watch):
    office = site.office()
    key = deploy_process(site, office, versions_count=2)
    with site.alur.uow() as uow:
        v1 = versions.for_new_case(uow, key, 1)
    starter = site.user(("Klien", office))
    instance = services.start(site.alur.uow(), key, actor=starter, office=office, version=v1.version)
    browser = admin(site)
    watch.start()
    response = browser.post(f"/kelola/proses/{key}/migrasi", {"dari": "1", "ke": "2"})
    return response, [Expect("instance_migrated", ADMIN, instance.id, {"from": 1, "to": 2})]


def r_office_day(site, watch):
    code, browser = site.office(), admin(site)
    watch.start()
    response = browser.post(f"/kelola/kantor/{code}/hari", {"day": "2031-03-04", "kind": "holiday", "note": "Cuti"})
    return response, [Expect("office_calendar_changed", ADMIN, None,
                             {"office": code, "day": "2031-03-04", "kind": "holiday"})]


def r_office_save(site, watch):
    code, browser = site.office(), admin(site)
    watch.start()
    response = browser.post(f"/kelola/kantor/{code}", {"name": "Kantor Diubah", "timezone": "Asia/Makassar",
                                                        "time_mode": "working", "schedule": ""})
    return response, [Expect("office_saved", ADMIN, None,
                             {"code": code, "name": "Kantor Diubah", "timezone": "Asia/Makassar", "created": False})]


def r_offices(site, watch):
    code, browser = unique("KB"), admin(site)
    watch.start()
    response = browser.post("/kelola/kantor", {"code": code, "name": "Kantor Baru", "timezone": "Asia/Jakarta",
                                               "time_mode": "elapsed", "schedule": ""})
    return response, [Expect("office_saved", ADMIN, None, {"code": code, "created": True})]


def r_retire(site, watch):
    key, browser = deploy_process(site, site.office(), 2), admin(site)
    watch.start()
    response = browser.post(f"/kelola/proses/{key}/v1/pensiunkan", {"reason": "diganti v2"})
    return response, [Expect("deployment_retired", ADMIN, None, {"key": key, "version": 1, "reason": "diganti v2"})]


def r_restore(site, watch):
    key = deploy_process(site, site.office(), 2)
    versions.retire(site.alur.uow(), key, 1, actor=ADMIN)
    browser = admin(site)
    watch.start()
    response = browser.post(f"/kelola/proses/{key}/v1/pulihkan")
    return response, [Expect("deployment_restored", ADMIN, None, {"key": key, "version": 1})]


def _upload(browser, key):
    return browser.upload("/kelola/unggah", {"files": [(io.BytesIO(two_steps(key)), f"{key}.bpmn")]})


def r_upload_check(site, watch):
    browser = admin(site)
    watch.start()
    return _upload(browser, unique("audit_up_")), []


def r_upload_deploy(site, watch):
    browser, key = admin(site), unique("audit_up_")
    token = re.search(r'name="token" value="([^"]+)"', page_text(_upload(browser, key))).group(1)
    watch.start()
    response = browser.post("/kelola/unggah/terapkan", {"token": token, "note": "lewat unggah"})
    return response, [Expect("deployment_created", ADMIN, None, {"key": key, "version": 1, "note": "lewat unggah"})]


def r_user_active(site, watch):
    username, browser = site.user(), admin(site)
    watch.start()
    first = browser.post(f"/kelola/pengguna/{username}/aktif", {"active": "0"})
    assert first.status_code == 302
    response = browser.post(f"/kelola/pengguna/{username}/aktif", {"active": "1"})
    return response, [Expect("user_deactivated", ADMIN, None, {"username": username}),
                      Expect("user_reactivated", ADMIN, None, {"username": username})]


def r_user_grant(site, watch):
    username, office, browser = site.user(), site.office(), admin(site)
    watch.start()
    response = browser.post(f"/kelola/pengguna/{username}/peran", {"role": "Klien", "office": office})
    return response, [Expect("role_granted", ADMIN, None, {"username": username, "role": "Klien", "office": office})]


def r_user_revoke(site, watch):
    office = site.office()
    username, browser = site.user(("Klien", office)), admin(site)
    watch.start()
    response = browser.post(f"/kelola/pengguna/{username}/cabut", {"role": "Klien", "office": office})
    return response, [Expect("role_revoked", ADMIN, None, {"username": username, "role": "Klien", "office": office})]


def r_user_new(site, watch):
    username, browser = unique("baru"), admin(site)
    watch.start()
    response = browser.post("/kelola/pengguna/baru", {"username": username, "full_name": "Siti Baru",
                                                      "email": "siti@example.go.id", "password": "rahasia-baru"})
    return response, [Expect("user_created", ADMIN, None, {"username": username, "email": "siti@example.go.id"})]


def r_user_password(site, watch):
    username, browser = site.user(), admin(site)
    watch.start()
    response = browser.post(f"/kelola/pengguna/{username}/sandi", {"password": "sandi-baru-123"})
    return response, [Expect("password_reset", ADMIN, None, {"username": username})]


def r_account(site, watch):
    browser = site.browser(site.user())
    watch.start()
    return browser.post("/akun", {"email_notifications": "on"}), []


def r_language(site, watch):
    browser = site.browser(site.user())
    watch.start()
    return browser.post("/bahasa", {"lang": "id", "next": "/tugas"}), []


def r_login(site, watch):
    username, browser = site.user(), site.browser()
    watch.start()
    return browser.login(username), []


def r_logout(site, watch):
    browser = site.browser(site.user())
    watch.start()
    return browser.post("/keluar"), []


def r_start(site, watch):
    browser = site.browser("klien.malut")
    watch.start()
    response = browser.post(f"/layanan/{SOP000}")
    instance_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    return response, [Expect("instance_started", "klien.malut", instance_id)]


def r_submit(site, watch):
    instance, item = started_case(site)
    browser = site.browser("klien.malut")
    watch.start()
    return browser.upload(f"/tugas/{item.id}", {"catatan": "selesai"}), \
        [Expect("task_completed", "klien.malut", instance.id, {"work_item": item.id})]


def r_claim(site, watch):
    instance, item = started_case(site)
    browser = site.browser("klien.malut")
    watch.start()
    return browser.post(f"/tugas/{item.id}/ambil"), [Expect("task_claimed", "klien.malut", instance.id,
                                                            {"work_item": item.id})]


def r_release(site, watch):
    instance, item = started_case(site)
    worklist.claim(site.alur.uow(), item.id, actor="klien.malut")
    browser = site.browser("klien.malut")
    watch.start()
    return browser.post(f"/tugas/{item.id}/lepas"), [Expect("task_released", "klien.malut", instance.id,
                                                            {"work_item": item.id})]


def r_reassign(site, watch):
    instance, item = started_case(site)
    other, browser = site.user(("Klien", "MALUT")), admin(site)
    watch.start()
    return browser.post(f"/tugas/{item.id}/alihkan", {"to_user": other}), \
        [Expect("task_reassigned", ADMIN, instance.id, {"work_item": item.id, "to": other})]


def _json(browser, url, body=None):
    return browser.client.post(url, json=body or {}, headers={"X-CSRFToken": browser.token or browser.fresh_token()})


def _draft(site, key=None):
    key = key or deploy_process(site, site.office())
    return drafts.create_from_version(site.alur.uow(), key, 1, actor=ADMIN)


def r_modeler_create(site, watch):
    browser = admin(site)
    watch.start()
    return browser.post("/rancangan/baru", {"name": unique("Rancangan ")}), []


def r_modeler_copy(site, watch):
    key, browser = deploy_process(site, site.office()), admin(site)
    watch.start()
    return browser.post("/rancangan/salin", {"source": f"{key}:1"}), []


def r_modeler_save(site, watch):
    draft, browser = _draft(site), admin(site)
    watch.start()
    return _json(browser, f"/rancangan/{draft.id}/simpan",
                 {"xml": draft.text.replace("2. B v1", "2. B diubah"), "row_version": draft.row_version}), []


def r_modeler_check(site, watch):
    draft, browser = _draft(site), admin(site)
    watch.start()
    return _json(browser, f"/rancangan/{draft.id}/periksa"), []


def r_modeler_delete(site, watch):
    draft, browser = _draft(site), admin(site)
    watch.start()
    return browser.post(f"/rancangan/{draft.id}/hapus"), []


def r_modeler_deploy(site, watch):
    draft = _draft(site)
    draft = drafts.save(site.alur.uow(), draft.id, draft.xml.replace(b"2. B v1", b"2. B dirancang"),
                        draft.row_version, actor=ADMIN)
    browser = admin(site)
    watch.start()
    response = _json(browser, f"/rancangan/{draft.id}/terapkan", {"note": "dari modeler",
                                                                  "row_version": draft.row_version})
    return response, [Expect("deployment_created", ADMIN, None, {"key": draft.key, "version": 2,
                                                                  "note": "dari modeler"})]


# Every state-changing admin endpoint and the event(s) it must write, with how to perform it.
AUDITED = {
    "admin.case_suspend": (("instance_suspended",), _case_action("tangguhkan", "instance_suspended")),
    "admin.case_resume": (("instance_resumed",), _case_action("lanjutkan", "instance_resumed", caseadmin.suspend)),
    "admin.case_cancel": (("instance_cancelled",), _case_action("batalkan", "instance_cancelled")),
    "admin.lane_role_save": (("lane_role_changed",), r_lane_role_save),
    "admin.migration_run": (("instance_migrated",), r_migration_run),
    "admin.office_day": (("office_calendar_changed",), r_office_day),
    "admin.office_save": (("office_saved",), r_office_save),
    "admin.offices": (("office_saved",), r_offices),
    "admin.retire": (("deployment_retired",), r_retire),
    "admin.restore": (("deployment_restored",), r_restore),
    "admin.upload_deploy": (("deployment_created",), r_upload_deploy),
    "admin.user_active": (("user_deactivated", "user_reactivated"), r_user_active),
    "admin.user_grant": (("role_granted",), r_user_grant),
    "admin.user_revoke": (("role_revoked",), r_user_revoke),
    "admin.user_new": (("user_created",), r_user_new),
    "admin.user_password": (("password_reset",), r_user_password),
    "inbox.reassign": (("task_reassigned",), r_reassign),
    "modeler.deploy": (("deployment_created",), r_modeler_deploy),
    # Case work, not administration, but in the case's history all the same.
    "cases.start": (("instance_started",), r_start),
    "tasks.submit": (("task_completed",), r_submit),
    "inbox.claim": (("task_claimed",), r_claim),
    "inbox.release": (("task_released",), r_release),
}

# POST endpoints that write no audit event, and why that is right.
EXEMPT = {
    "admin.upload_check": ("lints the uploaded files and stages them on disk for a day; the database is untouched",
                           r_upload_check),
    "auth.login": ("logging in; attempts are counted in login_attempts for the lock-out", r_login),
    "auth.logout": ("ends the user's own session", r_logout),
    "auth.language": ("the user's own language preference", r_language),
    "auth.account": ("the user's own settings (e-mail notifications)", r_account),
    "modeler.create": ("a draft is work in progress; deploying it is audited (deployment_created)", r_modeler_create),
    "modeler.copy": ("a draft copied from a version; deploying it is audited", r_modeler_copy),
    "modeler.save": ("saving a draft; deploying it is audited", r_modeler_save),
    "modeler.check": ("lints a draft; changes nothing", r_modeler_check),
    "modeler.delete": ("throws a draft away; the versions deployed from it stay, with their audit events",
                       r_modeler_delete),
}

ALL_RECIPES = {**{k: v[1] for k, v in AUDITED.items()}, **{k: v[1] for k, v in EXEMPT.items()}}


def post_endpoints(flask) -> set[str]:
    return {rule.endpoint for rule in flask.url_map.iter_rules() if "POST" in rule.methods}


def test_every_post_endpoint_is_either_audited_or_exempt_with_a_reason(site):
    assert not set(AUDITED) & set(EXEMPT)
    assert post_endpoints(site.flask) == set(AUDITED) | set(EXEMPT), \
        "a new POST endpoint: add it to AUDITED with the event it writes, or to EXEMPT with the reason"
    assert all(reason.strip() for reason, _ in EXEMPT.values())


def test_the_expected_event_types_are_ones_the_engine_writes():
    source = "\n".join(p.read_text() for p in (ROOT / "engine").rglob("*.py"))
    for endpoint, (kinds, _) in AUDITED.items():
        for kind in kinds:
            assert f'"{kind}"' in source, f"{endpoint}: the engine writes no '{kind}' event"


@pytest.mark.parametrize("endpoint", sorted(ALL_RECIPES))
def test_every_post_endpoint_keeps_the_trail_and_admin_actions_are_recorded(site, endpoint):
    watch = Watch(site)
    response, expected = ALL_RECIPES[endpoint](site, watch)
    assert response.status_code in (200, 302), (response.status_code, page_text(response)[:2000])
    assert not page_text(response).lstrip().startswith("Traceback")
    new = watch.new_events()
    if endpoint in AUDITED:
        assert {e.type for e in expected} == set(AUDITED[endpoint][0])
    for expect in expected:
        assert expect.found_in(new), (expect, new)


@pytest.mark.parametrize(("who", "grants", "endpoint"), [
    ("office admin", [("admin", "MALUT")], "admin.case_suspend"),
    ("office admin", [("admin", "MALUT")], "inbox.reassign"),
    ("deployer", [("deployer", None)], "admin.retire"),
])
def test_admin_actions_by_narrower_roles_name_that_actor(site, who, grants, endpoint):
    actor = site.user(*grants, prefix="narrow")
    watch = Watch(site)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys.modules[__name__], "ADMIN", actor)  # the recipes log in and expect this actor
        response, expected = ALL_RECIPES[endpoint](site, watch)
    assert response.status_code == 302, page_text(response)[:2000]
    new = watch.new_events()
    assert expected and all(e.actor == actor and e.found_in(new) for e in expected), (expected, new)


# --- every CLI command, performed once ------------------------------------------------------------------------------

def cli_commands() -> set[str]:
    """Every command of `alur`, nested ones as 'users add'."""
    def walk(parser, prefix):
        found = set()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    nested = walk(sub, f"{prefix}{name} ")
                    found |= nested or {f"{prefix}{name}"}
        return found
    return walk(cli.build_parser(), "")


@pytest.fixture
def run_cli(site, monkeypatch, capsys):
    """`alur ...` in this process, on the site's database; returns its exit code, checking it left no traceback."""
    monkeypatch.setattr(bootstrap, "build", lambda env=None: site.alur)

    def run(*args, expect=0):
        code = cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert code == expect, (args, code, out, err)
        assert "Traceback" not in out + err
        return out
    return run


def c_users_add(site, run, actor):
    username = unique("cli")
    return run("users", "add", username, "--password", "rahasia123", "--email", "c@example.go.id", *actor), \
        [("user_created", {"username": username})]


def c_users_grant(site, run, actor):
    username, office = site.user(), site.office()
    return run("users", "grant", username, "Klien", "--office", office, *actor), \
        [("role_granted", {"username": username, "role": "Klien", "office": office})]


def c_users_revoke(site, run, actor):
    office = site.office()
    username = site.user(("Klien", office))
    return run("users", "revoke", username, "Klien", "--office", office, *actor), \
        [("role_revoked", {"username": username, "role": "Klien", "office": office})]


def c_users_deactivate(site, run, actor):
    username = site.user()
    return run("users", "deactivate", username, *actor), [("user_deactivated", {"username": username})]


def c_users_activate(site, run, actor):
    username = site.user(active=False)
    with site.alur.uow() as uow:  # site.deactivate flips the flag only; make it a real deactivation first
        uow.directory.set_active(username, False, services.utcnow())
        uow.commit()
    return run("users", "activate", username, *actor), [("user_reactivated", {"username": username})]


def c_users_reset_password(site, run, actor):
    username = site.user()
    return run("users", "reset-password", username, "--password", "sandi-baru-1", *actor), \
        [("password_reset", {"username": username})]


def c_lanes(site, run, actor):
    key, role = deploy_process(site, site.office()), unique("Peran")
    return run("lanes", key, "--set", f"Duta={role}", *actor), \
        [("lane_role_changed", {"key": key, "lane": "Duta", "role": role})]


def c_offices_add(site, run, actor):
    code = unique("KC")
    return run("offices", "add", code, "Kantor CLI", "--timezone", "Asia/Makassar"), \
        [("office_saved", {"code": code, "name": "Kantor CLI", "timezone": "Asia/Makassar", "created": True})]


def c_offices_day(site, run, actor):
    code = site.office()
    return run("offices", "day", code, "2031-05-06", "holiday", "--note", "cuti", *actor), \
        [("office_calendar_changed", {"office": code, "day": "2031-05-06", "kind": "holiday"})]


def c_retire(site, run, actor):
    key = deploy_process(site, site.office(), 2)
    out = run("retire", key, "1", "--reason", "usang", *actor)
    out += run("retire", key, "1", "--restore", *actor)
    return out, [("deployment_retired", {"key": key, "version": 1, "reason": "usang"}),
                 ("deployment_restored", {"key": key, "version": 1})]


def c_migrate(site, run, actor):
    office = site.office()
    key = deploy_process(site, office, 2)
    instance = services.start(site.alur.uow(), key, actor=site.user(("Klien", office)), office=office, version=1)
    return run("migrate", key, "--from", "1", "--to", "2", *actor), \
        [("instance_migrated", {"from": 1, "to": 2}, instance.id)]


def c_deploy(site, run, actor):
    key = unique("audit_cli_")
    path = Path(site.files).parent / f"{key}.bpmn"
    path.write_bytes(two_steps(key))
    return run("deploy", path, "--office", site.office(), "--note", "lewat cli", *actor), \
        [("deployment_created", {"key": key, "version": 1, "note": "lewat cli"})]


def c_start(site, run, actor):
    out = run("start", SOP000, "--as", "klien.malut")
    instance_id = int(re.search(r"\(id (\d+)\)", out).group(1))
    return out, [("instance_started", {}, instance_id, "klien.malut")]


def c_complete(site, run, actor):
    instance, item = started_case(site)
    return run("complete", item.id, "--as", "klien.malut"), \
        [("task_completed", {"work_item": item.id}, instance.id, "klien.malut")]


# command -> how to run it; it returns its output and the events it must write
CLI_AUDITED = {
    "users add": c_users_add, "users grant": c_users_grant, "users revoke": c_users_revoke,
    "users deactivate": c_users_deactivate, "users activate": c_users_activate,
    "users reset-password": c_users_reset_password, "lanes": c_lanes, "offices add": c_offices_add,
    "offices day": c_offices_day, "retire": c_retire, "migrate": c_migrate, "deploy": c_deploy,
    "start": c_start, "complete": c_complete,
}
NO_AS = {"offices add"}  # the operator's command only: no --as
ONLY_AS = {"migrate"}  # needs --as
OWN_ACTOR = {"start", "complete"}  # case work: --as names the official doing it

# Commands that write no audit event: read-only ones, and the rest with the reason.
CLI_EXEMPT = {
    "init": ("creates or upgrades the schema", ("init",)),
    "lint": ("reads diagram files only", ("lint", TWO_STEPS)),
    "processes": ("read-only", ("processes",)),
    "tasks": ("read-only", ("tasks", "--as", "klien.malut")),
    "instances": ("read-only", ("instances",)),
    "show": ("read-only", ("show", "1")),
    "versions": ("read-only", ("versions", SOP000)),
    "diff": ("read-only", ("diff", SOP000, "1", "1")),
    "users list": ("read-only", ("users", "list")),
    "offices list": ("read-only", ("offices", "list")),
    "offices calendar": ("read-only", ("offices", "calendar", "MALUT", "--year", "2030")),
    "users notify": ("a user's own e-mail preference, which they set on their account page", None),
    "worker": ("fires due timers and sends e-mail: system events (timer_fired, sla_breached) in the cases' "
               "history", ("worker", "--once")),
    "demo": ("seeds a demonstration database", None),
    "serve": ("runs the web server", None),
}


def test_every_cli_command_is_either_audited_or_exempt_with_a_reason():
    assert not set(CLI_AUDITED) & set(CLI_EXEMPT)
    assert cli_commands() == set(CLI_AUDITED) | set(CLI_EXEMPT)


CLI_RUNS = [pytest.param(name, actor, id=f"{name}-{'as-admin' if actor else 'operator'}")
            for name in sorted(CLI_AUDITED) for actor in ((), ("--as", ADMIN))
            if not (name in NO_AS and actor) and not (name in ONLY_AS and not actor)
            and not (name in OWN_ACTOR and actor)]


@pytest.mark.parametrize(("name", "actor"), CLI_RUNS)
def test_cli_admin_commands_record_their_events_with_the_actor(site, run_cli, name, actor):
    watch = Watch(site)
    watch.start()
    _, expected = CLI_AUDITED[name](site, run_cli, actor)
    new = watch.new_events()
    for kind, data, *rest in expected:
        instance_id = rest[0] if rest else None
        who = rest[1] if len(rest) > 1 else (actor[1] if actor else None)  # no --as: the operator, recorded as None
        assert Expect(kind, who, instance_id, data).found_in(new), (kind, who, data, new)


def test_read_only_and_exempt_cli_commands_change_no_audit_row(site, run_cli):
    site.start(SOP000, "klien.malut")
    watch = Watch(site)
    watch.start()
    for _, args in CLI_EXEMPT.values():
        if args:
            run_cli(*args)
    new = watch.new_events()  # also: every row before is byte-identical
    assert {e.type for e in new} <= {"timer_fired", "sla_breached"}, new  # only the worker's system events
