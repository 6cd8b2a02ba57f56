"""The authorization matrix: every rule of the URL map × every kind of visitor → the outcome it must get.

The rules come from the Flask app's url_map, so a new route cannot escape: it fails
`test_every_rule_has_an_expectation` until it gets a row in EXPECT. Each row says, persona by persona, what the
request gets once its placeholders are filled with real objects (a case of SOP 000 in MALUT whose first step waits
for the Klien, an attachment on it, its diagram, a draft, a deployed version, a user, an office). Requests that
change something get a fresh object per persona, so every outcome is that of the persona, not of an earlier request.

Ids of other offices are never revealed: a user without any grant in a case's office gets for its task, case,
attachment and diagram (and every action on them) exactly what an id that does not exist gets, and lists and
filters never show them.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from adapters import tables
from engine import caseadmin, drafts, services
from tests.conftest import FIXTURES
from tests.web.helpers import PASSWORD, SOP000, Browser, Site, is_error_page, location, text, unique
from webui import vendor

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
OFFICE = "MALUT"  # SOP 000 belongs to this office; its first step is the Klien's
LANE = "Klien"
SPARE = "two_steps"  # a process deployed twice for this module: retired, restored, migrated, compared, re-mapped
PUBLIC = {"static", "vendor.asset"}  # public assets: the same for everybody
VOLATILE = {("sessions", "last_seen_at")}  # moved by every request of a logged-in browser

PERSONAS = ("anonymous", "other_role", "other_lane", "other_office", "holder", "office_admin", "foreign_admin",
            "analyst", "admin")
# anonymous      nobody logged in
# other_role     a role that is no lane of SOP 000, in MALUT (same office, another role)
# other_lane     another lane's role of SOP 000 (Duta Layanan) in MALUT: sees the case, not the Klien's step
# other_office   the lane's role (Klien) in another office
# holder         the lane's role (Klien) in MALUT, the case's office
# office_admin   admin of MALUT
# foreign_admin  admin of another office
# analyst        analyst of every office (may model, may not deploy)
# admin          admin of every office

# Outcomes: "login" = 302 to /masuk (the login page, with next=); a number = that status; "302" = a redirect that is
# not to the login page; "302/masuk" = a redirect to the login page after something done (logging out).
# Each row lists the outcome of every persona, in the order of PERSONAS.
EXPECT: dict[tuple[str, str], str] = {
    # (endpoint, method):  anonymous  other_role  other_lane  other_office  holder  office_admin  foreign_admin
    #                      analyst  admin
    # -- public: logging in, the language, assets
    ("auth.login", "GET"): "200 302 302 302 302 302 302 302 302",  # logged in: on to the inbox
    ("auth.login", "POST"): "302 302 302 302 302 302 302 302 302",  # the holder's password; logged in: inbox
    ("auth.language", "POST"): "302 302 302 302 302 302 302 302 302",
    ("static", "GET"): "200 200 200 200 200 200 200 200 200",
    ("vendor.asset", "GET"): "200 200 200 200 200 200 200 200 200",
    # -- every official
    ("auth.logout", "POST"): "login 302/masuk 302/masuk 302/masuk 302/masuk 302/masuk 302/masuk 302/masuk 302/masuk",
    ("auth.account", "GET"): "login 200 200 200 200 200 200 200 200",
    ("auth.account", "POST"): "login 302 302 302 302 302 302 302 302",
    ("inbox.home", "GET"): "login 302 302 302 302 302 302 302 302",
    ("inbox.index", "GET"): "login 200 200 200 200 200 200 200 200",
    ("cases.start_list", "GET"): "login 200 200 200 200 200 200 200 200",
    # SOP 000 starts in MALUT only, by its start lane (Klien) or an admin there: to anyone else it does not exist
    ("cases.start", "GET"): "login 404 404 404 200 200 404 404 200",
    ("cases.start", "POST"): "login 404 404 404 302 302 404 404 302",
    # -- the case, its diagram and its attachment: its lanes' roles and its office's admins see it; another office
    #    gets what a case that does not exist gets
    ("cases.show", "GET"): "login 403 200 404 200 200 404 403 200",
    ("cases.diagram", "GET"): "login 403 200 404 200 200 404 403 200",
    ("cases.attachment", "GET"): "login 403 200 404 200 200 404 403 200",
    # -- the Klien's step: the holder of the role in MALUT; admins of MALUT see it, release and reassign it
    ("tasks.show", "GET"): "login 403 403 404 200 200 404 403 200",
    ("tasks.submit", "POST"): "login 403 403 404 302 403 404 403 403",
    ("inbox.claim", "POST"): "login 403 403 404 302 403 404 403 403",
    ("inbox.release", "POST"): "login 403 403 404 302 302 404 403 302",  # claimed by the holder
    ("inbox.reassign", "POST"): "login 403 403 404 403 302 404 403 302",
    # -- holding a case: admins of its office (the area refuses non-admins before the case is looked at)
    ("admin.case_suspend", "POST"): "login 403 403 403 403 302 404 403 302",
    ("admin.case_resume", "POST"): "login 403 403 403 403 302 404 403 302",
    ("admin.case_cancel", "POST"): "login 403 403 403 403 302 404 403 302",
    ("admin.case_list", "GET"): "login 403 403 403 403 200 200 403 200",
    # -- the admin area: analysts, deployers and admins of any office
    ("admin.index", "GET"): "login 403 403 403 403 200 200 200 200",
    ("admin.processes", "GET"): "login 403 403 403 403 200 200 200 200",
    ("admin.process", "GET"): "login 403 403 403 403 200 200 200 200",
    ("admin.version_xml", "GET"): "login 403 403 403 403 200 200 200 200",
    ("admin.diff", "GET"): "login 403 403 403 403 200 200 200 200",
    ("admin.upload", "GET"): "login 403 403 403 403 200 200 200 200",
    ("admin.upload_check", "POST"): "login 403 403 403 403 400 400 400 400",  # no file chosen
    # deploying, retiring, restoring: deployers and admins of every office (engine/permissions.may_deploy); an
    # office's admin may not, since a version applies to every office that runs the SOP
    ("admin.upload_deploy", "POST"): "login 403 403 403 403 403 403 403 302",  # nothing staged: back to upload
    ("admin.retire", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.restore", "POST"): "login 403 403 403 403 403 403 403 302",
    # users: admins of any office see them; an office admin grants lane roles of their own office only
    ("admin.users", "GET"): "login 403 403 403 403 200 200 403 200",
    ("admin.user", "GET"): "login 403 403 403 403 200 200 403 200",
    ("admin.user_grant", "POST"): "login 403 403 403 403 302 403 403 302",
    ("admin.user_revoke", "POST"): "login 403 403 403 403 302 403 403 302",
    # the global admin only: accounts, offices, lane roles, migrations
    ("admin.user_new", "GET"): "login 403 403 403 403 403 403 403 200",
    ("admin.user_new", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.user_active", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.user_password", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.offices", "GET"): "login 403 403 403 403 403 403 403 200",
    ("admin.offices", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.office", "GET"): "login 403 403 403 403 403 403 403 200",
    ("admin.office_save", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.office_day", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.lane_roles", "GET"): "login 403 403 403 403 403 403 403 200",
    ("admin.lane_role_save", "POST"): "login 403 403 403 403 403 403 403 302",
    ("admin.migration_plan", "GET"): "login 403 403 403 403 403 403 403 200",
    ("admin.migration_run", "POST"): "login 403 403 403 403 403 403 403 302",
    # -- the modeler: analysts, deployers and admins of any office; deploying needs a deployer or a global admin
    ("modeler.drafts", "GET"): "login 403 403 403 403 200 200 200 200",
    ("modeler.create", "POST"): "login 403 403 403 403 302 302 302 302",
    ("modeler.copy", "POST"): "login 403 403 403 403 302 302 302 302",
    ("modeler.editor", "GET"): "login 403 403 403 403 200 200 200 200",
    ("modeler.content", "GET"): "login 403 403 403 403 200 200 200 200",
    ("modeler.save", "POST"): "login 403 403 403 403 200 200 200 200",
    ("modeler.check", "POST"): "login 403 403 403 403 200 200 200 200",
    ("modeler.deploy", "POST"): "login 403 403 403 403 403 403 403 200",
    ("modeler.delete", "POST"): "login 403 403 403 403 302 302 302 302",
}


# --- the world the requests run in ----------------------------------------------------------------------------------

@dataclass
class World:
    site: Site
    other_office: str
    users: dict[str, str]
    browsers: dict[str, Browser]
    case: object
    item: object
    attachment: object
    draft: object
    target_user: str
    target_office: str
    cache: dict = field(default_factory=dict)  # what a test keeps between requests (other sessions' tokens)

    @property
    def holder(self) -> str:
        return self.users["holder"]

    # fresh objects for requests that use them up
    def new_case(self):
        return self.site.start(SOP000, "klien.malut")

    def new_item(self):
        return self.site.only_ready(self.new_case().id)

    def new_draft(self):
        return drafts.create(self.site.alur.uow(), actor="admin", name=unique("Uji Matriks "))


def deploy_spare(site: Site) -> None:
    """Two versions of a small process of no office: retiring, restoring, migrating it disturbs SOP 000 in nothing."""
    data = (FIXTURES / "two_steps_timer.bpmn").read_bytes()
    for version, note in ((data, "v1"), (data + b"\n<!-- v2 -->\n", "v2")):
        services.deploy(site.alur.uow(), [("two_steps_timer.bpmn", version)], actor="admin", note=note)


def build_world(site: Site) -> World:
    deploy_spare(site)
    other = site.office("LAIN")
    users = {
        "other_role": site.user(("Arsiparis", OFFICE), prefix="peran-lain"),
        "other_lane": site.user(("Duta Layanan", OFFICE), prefix="lajur-lain"),
        "other_office": site.user((LANE, other), prefix="kantor-lain"),
        "holder": site.user((LANE, OFFICE), prefix="pemegang"),
        "office_admin": site.user(("admin", OFFICE), prefix="admin-kantor"),
        "foreign_admin": site.user(("admin", other), prefix="admin-lain"),
        "analyst": site.user(("analyst", None), prefix="analis"),
        "admin": "admin",
    }
    browsers = {persona: site.browser(username) for persona, username in users.items()}
    # An attachment: the Klien uploads the guest book with the first step of a case.
    done = site.start(SOP000, "klien.malut")
    first = site.only_ready(done.id)
    response = site.browser("klien.malut").upload(
        f"/tugas/{first.id}", {"keluaran": (io.BytesIO(PDF), "buku-tamu.pdf"), "catatan": "terlampir"})
    assert response.status_code == 302, text(response)
    [attachment] = site.attachments(done.id)
    case = site.start(SOP000, "klien.malut")
    return World(site=site, other_office=other, users=users, browsers=browsers, case=case,
                 item=site.only_ready(case.id), attachment=attachment,
                 draft=drafts.create(site.alur.uow(), actor="admin", name="Uji Matriks"),
                 target_user=site.user((LANE, OFFICE), prefix="sasaran"), target_office=site.office("SASARAN"))


@pytest.fixture(scope="module")
def world(site) -> World:
    return build_world(site)


# --- what each rule is sent ------------------------------------------------------------------------------------------

@dataclass
class Call:
    """One request: the values of the rule's placeholders, its query string, its form or JSON body."""

    values: dict
    query: str = ""
    data: dict | None = None
    json: dict | None = None
    browser: Browser | None = None  # a browser of its own (logging out ends the persona's session)


def shared_values(world: World) -> dict:
    return {
        "instance_id": world.case.id, "item_id": world.item.id, "attachment_id": world.attachment.id,
        "draft_id": world.draft.id, "key": SOP000, "version": 1, "username": world.target_user,
        "code": world.target_office, "filename": "alur.css", "package": "bpmn-js",
    }


def _with(**values):
    """Values of placeholders made fresh for each request, by a function of the world (or fixed)."""
    def prepare(world, persona, call):
        call.values.update({name: make(world) if callable(make) else make for name, make in values.items()})
    return prepare


def _form(data=None, **values):
    """A form body (made per request when `data` is a function of the world) and fresh placeholders."""
    def prepare(world, persona, call):
        _with(**values)(world, persona, call)
        call.data = data(world) if callable(data) else dict(data or {})
    return prepare


def _claimed(world):
    item = world.new_item()
    world.site.claim(item.id, world.holder)
    return item.id


def _suspended(world):
    case = world.new_case()
    caseadmin.suspend(world.site.alur.uow(), case.id, actor="admin", reason="disiapkan untuk uji")
    return case.id


def _own_browser(world, persona, call):
    if persona != "anonymous":  # logging out ends the session: a browser of its own
        call.browser = world.site.browser(world.users[persona])


def _draft_save(world, persona, call):
    draft = world.new_draft()
    call.values["draft_id"] = draft.id
    call.json = {"xml": draft.text, "row_version": draft.row_version}


def _json(body, **values):
    def prepare(world, persona, call):
        _with(**values)(world, persona, call)
        call.json = dict(body)
    return prepare


OFFICE_FORM = {"name": "Kantor Uji Matriks", "timezone": "Asia/Jakarta", "time_mode": "elapsed", "schedule": ""}
REASON = {"reason": "uji matriks"}

# How each POST rule is sent: a body that succeeds for whoever may do it (or a deliberately minimal one, noted),
# and fresh objects where success uses them up.
PREPARE = {
    "auth.login": _form(lambda w: {"username": w.holder, "password": PASSWORD}),
    "auth.logout": _own_browser,
    "auth.language": _form({"lang": "en", "next": "/tugas"}),
    "auth.account": _form({"email_notifications": "on"}),
    "cases.start": _form({"office": OFFICE}),
    "tasks.submit": _form({"catatan": "uji matriks"}, item_id=lambda w: w.new_item().id),
    "inbox.claim": _with(item_id=lambda w: w.new_item().id),
    "inbox.release": _with(item_id=_claimed),
    "inbox.reassign": _form({"to_user": "klien.malut"}, item_id=lambda w: w.new_item().id),
    "admin.case_suspend": _form(REASON, instance_id=lambda w: w.new_case().id),
    "admin.case_resume": _form(REASON, instance_id=_suspended),
    "admin.case_cancel": _form(REASON, instance_id=lambda w: w.new_case().id),
    "admin.offices": _form(lambda w: {"code": unique("BARU"), **OFFICE_FORM}),
    "admin.office_save": _form({"code": "", **OFFICE_FORM}),
    "admin.office_day": _form({"day": "2031-01-06", "kind": "holiday", "note": "uji matriks"}),
    "admin.user_new": _form(lambda w: {"username": unique("baru"), "full_name": "Pengguna Baru", "email": "",
                                       "password": "sandi-uji-matriks-1"}),
    "admin.user_grant": _form({"role": LANE, "office": OFFICE}),
    "admin.user_revoke": _form({"role": LANE, "office": OFFICE}),
    "admin.user_active": _form({"active": "1"}),
    "admin.user_password": _form({"password": "sandi-baru-matriks-1"}),
    "admin.migration_run": _form({"dari": "1", "ke": "2"}),
    "admin.lane_role_save": _form({"lane": "Duta", "role": ""}),
    "admin.retire": _form(REASON),
    "admin.restore": _form(REASON),
    "admin.upload_check": _form({}),  # minimal: no file chosen, the validation page
    "admin.upload_deploy": _form({"token": ""}),  # nothing staged: back to the upload page
    "modeler.create": _form({"name": "Uji Matriks Baru"}),
    "modeler.copy": _form({"source": f"{SOP000}:1"}),
    "modeler.delete": _with(draft_id=lambda w: w.new_draft().id),
    "modeler.save": _draft_save,
    "modeler.check": _json({}),
    "modeler.deploy": _json({"note": "uji matriks"}, draft_id=lambda w: w.new_draft().id),
}
ON_SPARE = {"admin.diff", "admin.migration_plan", "admin.migration_run", "admin.retire", "admin.restore",
            "admin.lane_roles", "admin.lane_role_save"}
QUERY = {"admin.diff": "?dari=1&ke=2", "admin.migration_plan": "?dari=1&ke=2"}


def call_for(world: World, endpoint: str, method: str, persona: str) -> Call:
    """The request of one rule for one persona, with fresh objects where the request uses them up."""
    call = Call(shared_values(world), query=QUERY.get(endpoint, ""))
    if endpoint == "vendor.asset":
        call.values["filename"] = vendor.ALLOWED["bpmn-js"][0]
    if endpoint in ON_SPARE:
        call.values["key"] = SPARE
    if method == "POST" and endpoint in PREPARE:
        PREPARE[endpoint](world, persona, call)
    return call


def rules(flask) -> list[tuple[str, str, object]]:
    """(endpoint, method, rule) of every rule of the URL map and every method it takes (HEAD and OPTIONS aside)."""
    found = []
    for rule in flask.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule))
    return sorted(found, key=lambda r: (r[2].rule, r[1]))


def path_of(rule, values) -> str:
    return rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]


def send(world: World, persona: str, method: str, url: str, call: Call):
    browser = call.browser or (world.site.browser() if persona == "anonymous" else world.browsers[persona])
    if method == "GET":
        return browser.get(url)
    if call.json is not None:
        return browser.client.post(url, json=call.json, headers={"X-CSRFToken": browser.fresh_token()})
    return browser.post(url, call.data or {})


def outcome(response, persona: str) -> str:
    status = response.status_code
    if status in (301, 302, 303):
        target = location(response)
        if target == "/masuk" or target.startswith("/masuk?"):
            return "login" if persona == "anonymous" else "302/masuk"
        return "302"
    return str(status)




def snapshot(site: Site) -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows (a session's last-seen time aside, which every request
    may move): equal snapshots mean nothing was added, changed or removed anywhere, the audit trail included."""
    found = {}
    with site.alur.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            rows = sorted(repr(tuple(row)) for row in conn.execute(select(*columns)))
            found[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16])
    return found


def is_json(response) -> bool:
    return response.mimetype == "application/json"


# --- the matrix ------------------------------------------------------------------------------------------------------

def test_every_rule_has_an_expectation(site):
    """A new route (or a new method of one) fails here until EXPECT says what each persona gets from it."""
    found = {(endpoint, method) for endpoint, method, _ in rules(site.flask)}
    assert sorted(found - set(EXPECT)) == [], "rules of the URL map without a row in EXPECT"
    assert sorted(set(EXPECT) - found) == [], "rows of EXPECT for rules the URL map no longer has"
    for key, row in EXPECT.items():
        assert len(row.split()) == len(PERSONAS), key
    posts = {endpoint for endpoint, method in found if method == "POST"}
    assert set(PREPARE) <= posts and ON_SPARE | set(QUERY) <= {endpoint for endpoint, _ in found}
    # Only the login page, the language switch and the assets are public.
    public = {key for key, row in EXPECT.items() if row.split()[0] != "login"}
    assert public == {("auth.login", "GET"), ("auth.login", "POST"), ("auth.language", "POST"), *(
        (endpoint, "GET") for endpoint in PUBLIC)}


def check(response, expected: str, persona: str, method: str) -> str | None:
    """What is wrong with one answer, or None."""
    got = outcome(response, persona)
    if response.status_code >= 500 or got != expected:
        return f"expected {expected}, got {got}"
    body = response.get_data()
    if expected == "login" and method == "GET" and "next=" not in location(response):
        return "the login page does not lead back"
    if expected in ("403", "404") and not is_json(response) and not is_error_page(text(response)):
        return "no error page"
    if expected in ("403", "404") and is_json(response) and "error" not in response.get_json():
        return "no error in the JSON"
    if expected == "200" and response.mimetype == "text/html" and is_error_page(text(response)):
        return "an error page with 200"
    if b"Traceback" in body:
        return "a traceback"
    return None


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_rule_answers_each_persona_as_expected(site, world, persona):
    """Every rule × this persona: login, 403, 404, 200, the success redirect or the validation page; never 500."""
    column = PERSONAS.index(persona)
    wrong = []
    # GET first: together they must leave every table as it was (only POST changes anything, and POST needs the
    # CSRF token: test_csrf.py).
    before = snapshot(site)
    for endpoint, method, rule in sorted(rules(site.flask), key=lambda r: r[1] != "GET"):
        if method != "GET" and before is not None:
            assert snapshot(site) == before, f"the GET requests of {persona} changed the database"
            before = None
        expected = EXPECT[(endpoint, method)].split()[column]
        if endpoint == "vendor.asset" and not vendor.installed(site.flask):
            expected = "404"  # bpmn-js is not installed (npm install): nothing to serve
        call = call_for(world, endpoint, method, persona)
        url = path_of(rule, call.values) + call.query
        response = send(world, persona, method, url, call)
        problem = check(response, expected, persona, method)
        if problem:
            wrong.append(f"{endpoint} {method} {url}: {problem}")
    assert wrong == [], f"{persona}:\n" + "\n".join(wrong)


def test_logging_out_ends_the_session_and_logging_in_starts_one(site, world):
    browser = site.browser(world.holder)
    assert browser.post("/keluar").status_code == 302
    assert not browser.logged_in
    anonymous = site.browser()
    assert anonymous.post("/masuk", {"username": world.holder, "password": PASSWORD}).status_code == 302
    assert anonymous.logged_in


# --- ids of other offices are never revealed -------------------------------------------------------------------------

ID_KINDS = ("item_id", "instance_id", "attachment_id")
FOREIGN = ("other_office", "foreign_admin", "nobody")  # nobody: an account without any grant
# The rules on one task, case or attachment today; the walk below finds them in the URL map (new ones included).
KNOWN_ID_RULES = {
    ("tasks.show", "GET"), ("tasks.submit", "POST"), ("inbox.claim", "POST"), ("inbox.release", "POST"),
    ("inbox.reassign", "POST"), ("cases.show", "GET"), ("cases.diagram", "GET"), ("cases.attachment", "GET"),
    ("admin.case_suspend", "POST"), ("admin.case_resume", "POST"), ("admin.case_cancel", "POST"),
}
_NOWHERE = iter(range(2_147_000_000, 2_147_483_647))
_TOKENS = re.compile(r'(<meta name="csrf-token" content="|name="csrf_token" value=")[^"]*"')


def missing_id(kind: str):
    """An id of this kind that names nothing."""
    return next(_NOWHERE) if kind == "instance_id" else str(uuid.uuid4())


def normalized(response, ident) -> str:
    """The page with its CSRF tokens and the id asked for blanked out."""
    page = _TOKENS.sub(r'\1TOKEN"', response.get_data(as_text=True))
    ident = str(ident)
    if not ident.isdigit():
        return page.replace(ident, "ID")
    for around in ("'{}'", "&#39;{}&#39;", "/{}/", '/{}"', "/{}?"):
        page = page.replace(around.format(ident), around.format("ID"))
    return page


@pytest.fixture(scope="module")
def hidden(world):
    """Things of MALUT in several states, by kind of id: they must look to another office like ids of nothing."""
    site = world.site
    world.browsers["nobody"] = site.browser(site.user(prefix="tanpa-peran"))
    claimed, suspended = _claimed(world), _suspended(world)
    cancelled = world.new_case()
    caseadmin.cancel(site.alur.uow(), cancelled.id, actor="admin", reason="dibatalkan untuk uji")
    return {
        "item_id": [world.new_item().id, claimed, world.attachment.work_item_id],  # ready, claimed, completed
        "instance_id": [world.new_case().id, suspended, cancelled.id],
        "attachment_id": [world.attachment.id],
    }


def id_rules(flask):
    return [(endpoint, method, rule, kind) for endpoint, method, rule in rules(flask)
            for kind in ID_KINDS if kind in rule.arguments]


def test_another_office_gets_for_its_ids_exactly_what_ids_of_nothing_get(site, world, hidden):
    """Same status, same page (CSRF tokens and the id aside) for a real id of MALUT as for an id of nothing; for
    every rule on a task, case or attachment, GET and POST (a case action also without a reason); nothing changes."""
    found = id_rules(site.flask)
    assert {(endpoint, method) for endpoint, method, _, _ in found} >= KNOWN_ID_RULES
    before = snapshot(site)
    compared = 0
    for _, method, rule, kind in found:
        forms = [None] if method == "GET" else [{"reason": "uji", "to_user": "klien.malut", "catatan": "uji"}]
        if method == "POST" and kind == "instance_id":
            forms.append({})  # no reason given: the case actions' validation path
        for real in hidden[kind]:
            for persona in FOREIGN:
                for data in forms:
                    answers = []
                    for ident in (real, missing_id(kind)):
                        url = path_of(rule, {**shared_values(world), kind: ident})
                        response = send(world, persona, method, url, Call({}, data=data))
                        answers.append((response.status_code, response.mimetype, normalized(response, ident)))
                    where = f"{persona} {method} {path_of(rule, {**shared_values(world), kind: real})} {data}"
                    assert answers[0][0] in (403, 404), where
                    assert answers[0] == answers[1], where
                    compared += 1
    assert compared >= 90
    assert snapshot(site) == before, "a request of another office changed something"


def test_those_ids_are_real_for_the_offices_admin(site, world, hidden):
    """The control of the test above: the same ids open for the admin of MALUT."""
    admin = world.browsers["office_admin"]
    for kind, url in (("item_id", "/tugas/{}"), ("instance_id", "/kasus/{}"), ("attachment_id", "/lampiran/{}")):
        for real in hidden[kind]:
            assert admin.get(url.format(real)).status_code == 200, (kind, real)


def test_a_user_of_the_office_without_the_role_is_refused_not_misled(site, world):
    """Within the office, a role that has nothing to do with the case gets 403 (not 404) on its ids."""
    browser = world.browsers["other_role"]
    for url in (f"/tugas/{world.item.id}", f"/kasus/{world.case.id}", f"/lampiran/{world.attachment.id}"):
        assert browser.get(url).status_code == 403, url


def test_lists_and_filters_never_show_the_cases_of_another_office(site, world):
    """The inbox, the case list and the start page, with every filter, show another office's cases to nobody."""
    other = world.other_office
    ours = site.start(SPARE, world.users["other_office"], office=other)  # the other office's own case
    site.start(SPARE, "admin", office=OFFICE)
    ours_item = site.only_ready(ours.id)
    with site.alur.uow(write=False) as uow:
        theirs = [i for i in uow.instances.list() if i.office == OFFICE]
        items = [w.id for i in theirs for w in uow.work_items.for_instance(i.id)]
    assert theirs and items
    secrets = [i.number for i in theirs] + [f'href="/kasus/{i.id}"' for i in theirs] + items
    inbox = ["/tugas", f"/tugas?sop={SOP000}", f"/tugas?sop={SPARE}", "/tugas?show=unclaimed", "/tugas?show=mine",
             "/tugas?show=overdue", "/tugas?sort=waiting", "/tugas?page=2"]
    cases = ["/kelola/kasus", f"/kelola/kasus?office={OFFICE}", f"/kelola/kasus?sop={SOP000}",
             "/kelola/kasus?status=running", f"/kelola/kasus?office={OFFICE}&status=suspended&sop={SOP000}"]
    for persona in ("other_office", "foreign_admin", "nobody"):
        browser = world.browsers.get(persona) or site.browser(site.user(prefix="tanpa-peran"))
        for url in [*inbox, *cases, "/layanan", f"/layanan/{SOP000}"]:
            page = text(browser.get(url))
            assert [s for s in secrets if s in page] == [], (persona, url)
    # The control: the same lists do show the other office's own case to its people.
    assert ours_item.id in text(world.browsers["other_office"].get(f"/tugas?sop={SPARE}"))
    assert ours.number in text(world.browsers["foreign_admin"].get("/kelola/kasus"))
    assert ours.number not in text(world.browsers["office_admin"].get(f"/kelola/kasus?office={other}"))
    assert theirs[0].number in text(world.browsers["office_admin"].get("/kelola/kasus"))
