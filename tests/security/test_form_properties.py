"""Property-based tests (hypothesis) of every form a user types into: no input makes a 500 or shows a traceback.

The task form, the start form, the account page, the admin's user, password, grant, office and office-day forms and
the login form get arbitrary text (unicode, very long, control characters, NUL, RTL marks, HTML, SQL-ish, emoji),
arbitrary and missing fields and numbers and dates in the wrong format. When a form comes back with an error,
every value typed is still in it, HTML-escaped (control characters, which the forms drop, aside), passwords are never
echoed, and nothing was saved.

Deterministic (derandomize=True, no example database): SQLite runs more examples than PostgreSQL.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import func, select

import forms
from adapters import tables
from engine import casefile, identity, services
from tests.conftest import FIXTURES
from tests.web.helpers import cheap_hash, field_block, is_error_page, text, unique
from webui import auth

EXAMPLES = {"sqlite": 200, "postgresql": 50}
RUN = Counter()  # examples run per form and backend, printed at the end of the module
OUTCOMES = Counter()  # (form/backend, status, error page or not) of every response
CURRENT = {}
OK_STATUSES = {200, 302, 400}
# What the forms drop from input: NUL and other controls (PostgreSQL cannot store NUL), lone surrogates.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

NASTY = [
    "", " ", "   \t ", "\x00", "a\x00b", "\x00\x01\x02\x1f\x7f", "\r\n", "baris\r\nkedua\nketiga", "\u202eRTL\u202c",
    "\u200f\u200e\u2066x\u2069", "\ufeffBOM", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
    "</textarea><b>x</b>", "' OR '1'='1", "'; DROP TABLE users; --", "Robert'); DELETE FROM audit_events;--",
    "😀👨‍👩‍👧‍👦🇮🇩", "{0}{name}{}%s%(x)s{{ 7*7 }}", "ل‌ا", "١٢٣", "𝟙𝟚", "-0", "+12", "007", "1e3", "0x10", "1.5",
    "99999999999999999999999", "-9223372036854775808", "9223372036854775807", "2024-02-30", "31/12/2024",
    "2024-13-01", "12-31-2024", "0000-01-01", "9999-12-31", "2031-W10-2", "yes", "on", "Ya", "Tidak", "true",
    "null", "None", "NaN", "[]", "{}", "\\", "%00", "x" * 4001, "y" * 100_001, "ñ" * 201, "é" * 65,
]
ANY_CHAR = st.characters(exclude_categories=["Cs"])
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(ANY_CHAR, max_size=60),
    st.text(st.characters(codec="ascii"), max_size=30),
    st.builds(lambda piece, times: (piece or "z") * times, st.text(ANY_CHAR, max_size=4), st.integers(50, 3000)),
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True).map(str),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
    st.dates().map(date.isoformat),
)
VALUE = st.one_of(TEXT, st.lists(TEXT, max_size=3))
EXTRA_KEY = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\[\]-]{0,15}", fullmatch=True).filter(lambda k: k != "csrf_token")


def form_data(names, value=VALUE, good=None) -> st.SearchStrategy[dict]:
    """Any subset of the form's fields with arbitrary values, plus fields the form does not have.

    With `good` (field -> strategy of acceptable values) a third of the examples fills every field acceptably and
    another third spoils one field of such a form, so that saving is tried as often as refusing.
    """
    garbage = st.builds(lambda known, extra: {**extra, **known},
                        st.fixed_dictionaries({}, optional={n: value for n in names}),
                        st.dictionaries(EXTRA_KEY, value, max_size=2))
    if not good:
        return garbage
    valid = st.fixed_dictionaries(good)
    spoiled = st.builds(lambda d, name, bad: {**d, name: bad}, valid, st.sampled_from(sorted(good)), value)
    return st.one_of(valid, spoiled, garbage)


def clean_text(min_size=0, max_size=80) -> st.SearchStrategy[str]:
    """Text a form accepts for a field of at most `max_size` characters (unicode, HTML, quotes, emoji...)."""
    return st.text(ANY_CHAR, min_size=min_size, max_size=max_size).filter(
        lambda t: len(CONTROL.sub("", t).strip()) >= min_size)


def prove(site, name, strategy, check):
    """Run `check` on examples of `strategy`: more on SQLite, fewer on PostgreSQL."""
    @settings(max_examples=EXAMPLES[site.backend], deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(strategy)
    def property_holds(data):
        RUN[(name, site.backend)] += 1
        CURRENT["form"] = f"{name}/{site.backend}"
        check(data)
    property_holds()


@pytest.fixture(scope="module", autouse=True)
def report_examples():
    yield
    print("\nhypothesis examples run: " + ", ".join(f"{n}/{b}: {c}" for (n, b), c in sorted(RUN.items())))
    print("responses: " + ", ".join(f"{f} {s}{' ' + e if e else ''}: {c}" for (f, s, e), c in sorted(OUTCOMES.items())))


# --- checks -------------------------------------------------------------------------------------------------------

def first(entry):
    """What a form takes from a field sent once or several times: the first value, or None when absent."""
    if isinstance(entry, list):
        return entry[0] if entry else None
    return entry


def shown(value) -> str:
    return str(escape(CONTROL.sub("", value or "")))


def assert_no_crash(response, allowed=OK_STATUSES, browser=None):
    """A status of the expected set and no traceback; after a redirect, the browser reads its flashes."""
    body = text(response)
    if browser is not None and response.status_code == 302:
        followed = browser.get(response.headers["Location"])  # its success message may name what was typed
        assert followed.status_code == 200, text(followed)[:3000]
    OUTCOMES[(CURRENT.get("form"), response.status_code, "error page" if is_error_page(body) else "")] += 1
    assert response.status_code in allowed, (response.status_code, body[:3000])
    assert "Traceback" not in body and 'File "/' not in body


def assert_kept(block: str, value: str | None, strip=False):
    """The value is in the field, HTML-escaped: as typed, or without the control characters the forms drop."""
    value = value or ""
    candidates = {value, CONTROL.sub("", value)}
    candidates |= {c.strip() for c in candidates} if strip else set()
    assert any(str(escape(c)) in block for c in candidates), (value[:200], block[:3000])


def assert_form_kept(page: str, spec, sent: dict):
    """Every field of a forms.FormSpec shows what was typed into it."""
    for f in spec.fields:
        block = field_block(page, f.name)
        entry = sent.get(f.name)
        typed = first(entry)
        if f.type in ("string", "text", "long", "date"):
            assert_kept(block, typed if isinstance(typed, str) else "")
        elif f.type == "enum" and typed in {v for v, _ in f.choices}:
            assert re.search(rf'value="{re.escape(shown(typed))}" (checked|selected)', block), (typed, block)
        elif f.type == "checklist":
            for item in entry if isinstance(entry, list) else [entry]:
                if item in {v for v, _ in f.choices}:
                    assert f'value="{shown(item)}" checked' in block, (item, block)
        elif f.type == "boolean" and isinstance(entry, str) and entry.strip().casefold() in {"on", "true", "1", "ya"}:
            assert " checked" in block, (entry, block)


def has_nul(data: dict) -> bool:
    """Whether a value holds a NUL: outside the task and start forms the request is refused as malformed (400)."""
    return any("\x00" in v for value in data.values() for v in (value if isinstance(value, list) else [value]))


def refused_as_malformed(response, data) -> bool:
    """A NUL anywhere but in a task or start form: the error page, 400; else False."""
    if response.status_code == 400 and is_error_page(text(response)):
        assert has_nul(data), "a 400 error page for input without a NUL: the form should have come back"
        return True
    return False


def assert_password_not_echoed(page: str, password, baseline: str, data: dict):
    echoed = [v for name, value in data.items() if "password" not in name
              for v in (value if isinstance(value, list) else [value])]
    for value in password if isinstance(password, list) else [password]:
        if isinstance(value, str) and len(value.strip()) >= 10 and value not in baseline \
                and not any(value.strip() in other for other in echoed):
            assert str(escape(value)) not in page and str(escape(value.strip())) not in page


def assert_no_value_in_password_inputs(page: str):
    for tag in re.findall(r"<input[^>]*type=\"password\"[^>]*>", page):
        assert 'value="' not in tag or 'value=""' in tag, tag


# --- the task form ----------------------------------------------------------------------------------------------------

TYPED_FIELDS = (
    '<camunda:formField id="nama" label="Nama" type="string"><camunda:validation>'
    '<camunda:constraint name="required"/><camunda:constraint name="maxlength" config="100"/>'
    '</camunda:validation></camunda:formField>'
    '<camunda:formField id="jumlah" label="Jumlah" type="long"><camunda:validation>'
    '<camunda:constraint name="min" config="1"/><camunda:constraint name="max" config="1000"/>'
    '</camunda:validation></camunda:formField>'
    '<camunda:formField id="tanggal" label="Tanggal" type="date"/>'
    '<camunda:formField id="setuju" label="Setuju" type="boolean"/>'
    '<camunda:formField id="jenis" label="Jenis" type="enum"><camunda:value id="j1" name="Satu"/>'
    '<camunda:value id="j2" name="Dua"/><camunda:value id="j3" name="Tiga"/><camunda:value id="j4" name="Empat"/>'
    '<camunda:value id="j5" name="Lima"/></camunda:formField>'
    '<camunda:formField id="warna" label="Warna" type="enum"><camunda:value id="merah" name="Merah"/>'
    '<camunda:value id="putih" name="Putih"/></camunda:formField>'
    '<camunda:formField id="kode" label="Kode" type="string"><camunda:validation>'
    '<camunda:constraint name="minlength" config="3"/></camunda:validation></camunda:formField>'
)
TYPED_NAMES = ("nama", "jumlah", "tanggal", "setuju", "jenis", "warna", "kode")
TYPED_GOOD = {
    "nama": clean_text(1, 90),
    "jumlah": st.integers(1, 1000).map(str),
    "tanggal": st.one_of(st.dates().map(date.isoformat),
                         st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y")), st.just("")),
    "setuju": st.sampled_from(["true", "on", "", "false", "ya"]),
    "jenis": st.sampled_from(["j1", "j2", "j3", "j4", "j5", ""]),
    "warna": st.sampled_from(["merah", "putih"]),
    "kode": st.one_of(clean_text(3, 60), st.just("")),
    "catatan": clean_text(0, 300),
}


def typed_process(key: str) -> bytes:
    """two_steps with a typed start form and the same typed form on step A."""
    form = f"<bpmn:extensionElements><camunda:formData>{TYPED_FIELDS}</camunda:formData></bpmn:extensionElements>"
    data = (FIXTURES / "two_steps_timer.bpmn").read_text()
    data = data.replace('id="two_steps"', f'id="{key}"')
    data = data.replace("xmlns:bpmn=", 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:bpmn=', 1)
    data = data.replace('<bpmn:startEvent id="s"/>', f'<bpmn:startEvent id="s">{form}</bpmn:startEvent>')
    return data.replace('<bpmn:userTask id="A" name="1. A"/>',
                        f'<bpmn:userTask id="A" name="1. A">{form}</bpmn:userTask>').encode()


class TaskQueue:
    """A ready work item for the next example; a fresh case once an example completed the step."""

    def __init__(self, site, start):
        self.site, self.start, self.item = site, start, None

    def current(self):
        if self.item is None or self.site.item(self.item.id).state != "ready":
            instance = self.start()
            self.item = self.site.only_ready(instance.id)
        return self.item


def task_property(site, name, queue, browser, names, uploads=None, value=VALUE, good=None):
    """Submit arbitrary input (and, with `uploads`, an arbitrary file as `keluaran`) to the ready step's form."""
    def check(data):
        item = queue.current()
        history, stored = len(site.history(item.instance_id)), site.stored_files()
        spec = casefile.task_view(site.alur.uow(write=False), item.id, viewer=browser.username).form
        sent = {k: v for k, v in data.items() if k != "_upload"}
        upload = data.get("_upload")
        files = {"keluaran": (io.BytesIO(upload[0]), upload[1])} if upload else {}
        response = browser.upload(f"/tugas/{item.id}", {**sent, **files})
        assert_no_crash(response, {302, 400})
        if response.status_code == 400:
            assert_form_kept(text(response), spec, sent)
            assert site.item(item.id).state == "ready", "a refused form completed the step"
            assert len(site.history(item.instance_id)) == history
            assert site.attachments(item.instance_id) == [] and site.stored_files() == stored
        else:
            assert site.item(item.id).state == "completed"

    strategy = form_data(names, value, good)
    if uploads is not None:
        strategy = st.builds(lambda d, u: {**d, "_upload": u}, strategy, uploads)
    prove(site, name, strategy, check)


def logged_in(site, username):
    browser = site.browser(username)
    browser.username = username
    return browser


def test_the_typed_task_form_survives_any_input(site):
    office, key = site.office("FP"), unique("form_prop_")
    services.deploy(site.alur.uow(), [(f"{key}.bpmn", typed_process(key))], actor="admin", office=office, note="t")
    worker = site.user(("Klien", office))
    start_data = {"nama": "Siti", "jumlah": "2"}
    queue = TaskQueue(site, lambda: services.start(site.alur.uow(), key, actor=worker, office=office,
                                                   data=start_data))
    task_property(site, "task form (typed)", queue, logged_in(site, worker), [*TYPED_NAMES, "catatan"],
                  good=TYPED_GOOD)


def derived_process(key: str) -> bytes:
    """One SOP step with Kelengkapan, an output document and a decision after it: the derived form has them all."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="d" targetNamespace="x">
  <bpmn:process id="{key}" name="Periksa berkas" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="L1" name="Klien"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>A</bpmn:flowNodeRef><bpmn:flowNodeRef>G</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>e1</bpmn:flowNodeRef><bpmn:flowNodeRef>e2</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="A"/>
    <bpmn:userTask id="A" name="1. Memeriksa berkas">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="kelengkapan" value="1. KTP 2. Kartu Keluarga, Surat &amp; Foto &lt;3x4&gt;"/>
        <camunda:property name="output" value="Surat jawaban"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="A" targetRef="G"/>
    <bpmn:exclusiveGateway id="G" name="Lengkap?"/>
    <bpmn:sequenceFlow id="ya" name="Ya" sourceRef="G" targetRef="e1">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">keputusan == "Ya"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="tidak" name="Tidak" sourceRef="G" targetRef="e2">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">keputusan == "Tidak"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
UPLOADS = st.one_of(
    st.none(),
    st.tuples(st.just(PDF), st.sampled_from(["surat.pdf", "SURAT.PDF", "../../etc/passwd.pdf", "a\x00b.pdf",
                                             "<script>.pdf", "surat.pdf.exe", "😀.pdf", " .pdf", "x" * 300 + ".pdf"])),
    st.tuples(st.binary(max_size=64), TEXT.map(lambda name: name or "x")),
)


def test_the_sop_task_form_with_checklist_decision_file_and_notes_survives_any_input(site):
    office, key = site.office("FD"), unique("derived_prop_")
    services.deploy(site.alur.uow(), [(f"{key}.bpmn", derived_process(key))], actor="admin", office=office,
                    note="t")
    worker = site.user(("Klien", office))
    queue = TaskQueue(site, lambda: services.start(site.alur.uow(), key, actor=worker, office=office))
    names = ["catatan", "kelengkapan", "keputusan"]
    kelengkapan = st.lists(st.sampled_from(["KTP", "Kartu Keluarga", "Surat", "Foto <3x4>", "Paspor"]), max_size=5)
    value = st.one_of(VALUE, kelengkapan, st.sampled_from(["Ya", "Tidak", "ya", " Ya "]))
    with site.alur.uow(write=False) as uow:
        spec = forms.form_for_step(uow.deployments.latest(key).step("A").to_dict())
    assert [f.type for f in spec.fields] == ["checklist", "enum", "file", "text"], "the form this test is about"
    good = {"kelengkapan": kelengkapan.filter(lambda items: "Paspor" not in items),
            "keputusan": st.sampled_from(["Ya", "Tidak"]), "catatan": clean_text(0, 300)}
    task_property(site, "task form (checklist/decision/file/notes)", queue, logged_in(site, worker), names, UPLOADS,
                  value, good)


# --- the start form ---------------------------------------------------------------------------------------------------

def count_cases(site, key) -> int:
    with site.alur.uow(write=False) as uow:
        return uow.conn.execute(select(func.count()).select_from(tables.instances)
                                .where(tables.instances.c.key == key)).scalar_one()


def test_the_start_form_survives_any_input_and_keeps_the_office(site):
    # A template SOP (no office of its own) the starter may start in two offices: the office is a field too.
    offices = [site.office("FS"), site.office("FS")]
    key = unique("start_prop_")
    services.deploy(site.alur.uow(), [(f"{key}.bpmn", typed_process(key))], actor="admin", note="t")
    starter = site.user(*[("Klien", o) for o in offices])
    browser = logged_in(site, starter)
    spec = forms.form_for_start(_start_form(site, key))
    office_value = st.one_of(st.sampled_from(offices), TEXT, st.lists(st.sampled_from(offices), max_size=2))

    def check(data):
        before = count_cases(site, key)
        response = browser.post(f"/layanan/{key}", data)
        assert_no_crash(response, {302, 400})
        if response.status_code == 400:
            page = text(response)
            assert_form_kept(page, spec, data)
            chosen = first(data.get("office"))
            if chosen in offices:
                assert f'<option value="{chosen}" selected>' in page, "the chosen office was lost"
            assert count_cases(site, key) == before, "a refused start form started a case"
        else:
            assert count_cases(site, key) == before + 1

    strategy = st.builds(lambda d, o: {**d, **({} if o is None else {"office": o})},
                         form_data(TYPED_NAMES, good=TYPED_GOOD),
                         st.one_of(st.sampled_from(offices), st.sampled_from(offices), st.none(), office_value))
    prove(site, "start form", strategy, check)


def _start_form(site, key):
    with site.alur.uow(write=False) as uow:
        return list(uow.deployments.latest(key).start_form)


# --- the account page, the login form ---------------------------------------------------------------------------

def password_hash(site, username) -> str:
    with site.alur.uow(write=False) as uow:
        return uow.directory.user(username).password_hash


def test_the_account_page_survives_any_input_and_never_echoes_a_password(site):
    username = site.user()
    browser = logged_in(site, username)
    baseline = text(browser.get("/akun"))
    names = ["email_notifications", "password", "current_password", "new_password", "new_password_again",
             "confirm", "language", "email"]

    def check(data):
        before = password_hash(site, username)
        response = browser.post("/akun", data)
        assert_no_crash(response)
        if refused_as_malformed(response, data):
            assert password_hash(site, username) == before
            return
        page = text(response) if response.status_code != 302 else text(browser.get("/akun"))
        assert_no_value_in_password_inputs(page)
        for name, value in data.items():
            if "password" in name or "sandi" in name:
                assert_password_not_echoed(page, value, baseline, data)
        if response.status_code == 400:
            assert password_hash(site, username) == before, "a refused account form changed the password"
        assert browser.logged_in or password_hash(site, username) != before

    prove(site, "account page", form_data(names), check)


@pytest.fixture
def cheap_kdf(monkeypatch):
    """Scrypt at a tiny work factor for the passwords these tests set and the unknown accounts they try."""
    monkeypatch.setattr(identity, "hash_password", cheap_hash)
    monkeypatch.setattr(auth, "_DUMMY_HASH", cheap_hash("not-a-real-password"), raising=False)


def test_the_login_form_survives_any_input_keeps_the_username_and_never_echoes_the_password(site, cheap_kdf):
    baseline = text(site.browser().get("/masuk"))
    browser = site.browser()

    def check(data):
        response = browser.client.post("/masuk", data={**data, "csrf_token": browser.fresh_token()})
        assert_no_crash(response, {400, 401, 429})
        if refused_as_malformed(response, data):
            return
        assert response.status_code != 400
        page = text(response)
        username = first(data.get("username"))
        assert f'name="username" value="{escape((username or "").strip())}"' in page
        assert_no_value_in_password_inputs(page)
        assert_password_not_echoed(page, data.get("password"), baseline, data)
        assert not browser.logged_in

    prove(site, "login form", form_data(["username", "password"]), check)


# --- the admin's forms ------------------------------------------------------------------------------------------------

def audit_count(site) -> int:
    with site.alur.uow(write=False) as uow:
        return uow.conn.execute(select(func.count()).select_from(tables.audit_events)).scalar_one()


def test_the_new_user_form_survives_any_input(site, cheap_kdf):
    admin = logged_in(site, "admin")
    baseline = text(admin.get("/kelola/pengguna/baru"))
    good = {"username": st.from_regex(r"[a-z][a-z0-9._-]{5,15}", fullmatch=True), "full_name": clean_text(0, 100),
            "email": st.sampled_from(["", "siti@example.go.id", "a.b+c@kanwil-malut.go.id"]),
            "password": clean_text(8, 40)}
    strategy = form_data(["username", "full_name", "email", "password"], good=good)

    def check(data):
        users, events = len(_usernames(site)), audit_count(site)
        response = admin.post("/kelola/pengguna/baru", data)
        assert_no_crash(response, {302, 400}, admin)
        if refused_as_malformed(response, data):
            assert len(_usernames(site)) == users and audit_count(site) == events
            return
        page = text(response)
        assert_no_value_in_password_inputs(page)
        assert_password_not_echoed(page, data.get("password"), baseline, data)
        if response.status_code == 400:
            for name in ("username", "full_name", "email"):
                assert_kept(field_block(page, name), first(data.get(name)) or "", strip=True)
            assert len(_usernames(site)) == users and audit_count(site) == events, "a refused form saved"
        else:
            assert len(_usernames(site)) == users + 1

    prove(site, "admin: new user", strategy, check)


def _usernames(site):
    with site.alur.uow(write=False) as uow:
        return uow.conn.execute(select(tables.users.c.username)).scalars().all()


def test_the_password_reset_and_grant_forms_survive_any_input(site, cheap_kdf):
    admin = logged_in(site, "admin")
    target = site.user()
    baseline = text(admin.get(f"/kelola/pengguna/{target}"))

    def check(data):
        before_hash, events = password_hash(site, target), audit_count(site)
        grant = {k[6:]: v for k, v in data.items() if k.startswith("grant_")}
        reset = {k: v for k, v in data.items() if not k.startswith("grant_")}
        response = admin.post(f"/kelola/pengguna/{target}/sandi", reset)
        assert_no_crash(response, {302, 400}, admin)
        page = text(response)
        assert_no_value_in_password_inputs(page)
        assert_password_not_echoed(page, reset.get("password"), baseline, reset)
        if response.status_code == 400:
            assert password_hash(site, target) == before_hash and audit_count(site) == events
        events = audit_count(site)
        grants = _grants(site, target)
        response = admin.post(f"/kelola/pengguna/{target}/peran", grant)
        assert_no_crash(response, {302, 400}, admin)
        if refused_as_malformed(response, grant):
            assert _grants(site, target) == grants and audit_count(site) == events
        elif response.status_code == 400:
            page = text(response)
            assert_kept(field_block(page, "role"), first(grant.get("role")) or "")
            assert _grants(site, target) == grants and audit_count(site) == events

    names = ["password", "grant_role", "grant_office", "grant_username"]
    good = {"password": clean_text(8, 40), "grant_office": st.sampled_from(["", "MALUT", "DKI"]),
            "grant_role": st.one_of(st.sampled_from(["Klien", "Duta", "analyst"]), clean_text(1, 60))}
    prove(site, "admin: password reset + grant", form_data(names, good=good), check)


def _grants(site, username):
    with site.alur.uow(write=False) as uow:
        return uow.directory.roles_of(username)


def _office_row(site, code):
    with site.alur.uow(write=False) as uow:
        return uow.directory.office(code), uow.directory.office_days(code)


OFFICE_FIELDS = ["code", "name", "timezone", "time_mode", "schedule"]
OFFICE_VALUE = st.one_of(VALUE, st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "working", "elapsed",
                                                 "mon-fri 08:00-16:00", "sat-sun off", "../../etc/passwd",
                                                 "Etc/GMT+99", "UTC\x00"]))


OFFICE_GOOD = {
    "code": st.from_regex(r"[A-Z][A-Z0-9_-]{3,10}", fullmatch=True), "name": clean_text(1, 100),
    "timezone": st.sampled_from(["Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura"]),
    "time_mode": st.sampled_from(["working", "elapsed"]),
    "schedule": st.sampled_from(["", "mon-fri 08:00-16:00", "mon-thu 07:30-12:00 13:00-16:00; fri 07:30-11:30; "
                                 "sat-sun off"]),
    "day": st.dates().map(date.isoformat), "kind": st.sampled_from(["holiday", "workday", "clear"]),
    "note": clean_text(0, 100),
}


def test_the_office_forms_survive_any_input(site):
    admin = logged_in(site, "admin")
    code = site.office("FO")

    def check(data):
        kind = data.pop("_form")
        before, events = _office_row(site, code), audit_count(site)
        count = len(_office_codes(site))
        if kind == "new":
            response = admin.post("/kelola/kantor", data)
        elif kind == "edit":
            response = admin.post(f"/kelola/kantor/{code}", data)
        else:
            response = admin.post(f"/kelola/kantor/{code}/hari", data)
        assert_no_crash(response, {302, 400}, admin)
        if response.status_code != 400:
            return
        if refused_as_malformed(response, data):
            assert _office_row(site, code) == before and audit_count(site) == events
            return
        page = text(response)
        names = {"new": OFFICE_FIELDS, "edit": OFFICE_FIELDS[1:], "day": ["day", "note"]}[kind]
        for name in names:
            if name != "time_mode":  # a select: a value not on it cannot be shown; the error says what to choose
                assert_kept(field_block(page, name), first(data.get(name)) or "", strip=True)
        assert _office_row(site, code) == before and audit_count(site) == events
        assert len(_office_codes(site)) == count

    strategy = st.builds(lambda d, k: {**d, "_form": k},
                         form_data([*OFFICE_FIELDS, "day", "kind", "note"], OFFICE_VALUE, OFFICE_GOOD),
                         st.sampled_from(["new", "edit", "day"]))
    prove(site, "admin: offices", strategy, check)


def _office_codes(site):
    with site.alur.uow(write=False) as uow:
        return [o.code for o in uow.directory.offices()]


# --- the case administration reason and the lane role forms -----------------------------------------------------------

def test_the_case_reason_and_lane_role_forms_survive_any_input(site):
    admin = logged_in(site, "admin")
    office = site.office("FL")
    key = unique("lane_prop_")
    services.deploy(site.alur.uow(), [(f"{key}.bpmn", typed_process(key))], actor="admin", office=office, note="t")
    instance = services.start(site.alur.uow(), key, actor=site.user(("Klien", office)), office=office,
                              data={"nama": "Siti"})

    def check(data):
        status, history, events = site.instance(instance.id).status, len(site.history(instance.id)), audit_count(site)
        action = "tangguhkan" if status == "running" else "lanjutkan"
        reason = {k: v for k, v in data.items() if k == "reason"}
        response = admin.post(f"/kasus/{instance.id}/{action}", reason)
        assert_no_crash(response, {302, 400}, admin)
        if response.status_code == 400 and not refused_as_malformed(response, reason):
            assert_kept(field_block(text(response), "reason"), first(reason.get("reason")) or "")
        if response.status_code == 400:
            assert site.instance(instance.id).status == status and len(site.history(instance.id)) == history
        lane = {k[5:]: v for k, v in data.items() if k.startswith("lane_")}
        events = audit_count(site)
        response = admin.post(f"/kelola/proses/{key}/peran", lane)
        assert_no_crash(response, {302, 400}, admin)
        if response.status_code == 400:
            assert audit_count(site) == events, "a refused lane role was recorded"
            if not refused_as_malformed(response, lane) and first(lane.get("lane")) in ("Klien", "Duta"):
                assert_kept(text(response), first(lane.get("role")) or "", strip=True)

    good = {"reason": clean_text(1, 200), "lane_lane": st.sampled_from(["Klien", "Duta"]),
            "lane_role": st.one_of(st.just(""), clean_text(1, 60))}
    prove(site, "admin: case reason + lane role", form_data(["reason", "lane_lane", "lane_role"], good=good), check)
