"""Markup in a diagram's names runs nowhere in a real browser: the task page, the case page with its bpmn-js
diagram, and the diagram's XML opened on its own.

tests/fixtures/hostile/hostile_names.bpmn puts `<script>window.__pwned=...</script>` and `"><img src=x
onerror="window.__pwned=...">` in its process, lane, step, gateway, flow and form field names, its documentation
and properties, and XHTML/SVG elements with event handlers in an extension. Each page must show those texts
literally, hold no element they would have made (no inline script, no element with an event handler), log no
console error (a Content-Security-Policy violation is one) and leave `window.__pwned` undefined, with no dialog.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from adapters import demo
from engine import services
from tests.web.helpers import PASSWORD_HASH

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DIAGRAM = ROOT / "tests" / "fixtures" / "hostile" / "hostile_names.bpmn"
KEY = "hostile_names"
OFFICE = "BENGKULU"
LANE_1 = "Klien <script>window.__pwned='lane'</script>"
STEP_A = '1. Isi "><img src=x onerror="window.__pwned=\'step\'">'
STEP_A_DOC = "Langkah <script>window.__pwned='step-doc'</script>"
FIELD_LABEL = "Catatan <script>window.__pwned='label'</script>"
FIELD_DEFAULT = '"><img src=x onerror="window.__pwned=\'default\'">'
PROCESS = "Layanan <script>window.__pwned='process'</script>"


def log_in(page, username: str) -> None:
    page.goto("/masuk")
    form = page.locator('form[action^="/masuk"]')
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(demo.DEMO_PASSWORD)
    with page.expect_navigation(url=re.compile(r"/tugas$")):
        form.locator("button[type=submit]").click()


def assert_inert(page, dialogs: list[str]) -> None:
    """No script of the diagram ran and no element it carried became live."""
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.__pwned") == "undefined", page.evaluate("window.__pwned")
    assert dialogs == []
    live = page.evaluate(
        """() => Array.from(document.querySelectorAll('script:not([src]), [onerror], [onload]'))
               .map(e => e.outerHTML.slice(0, 120))""")
    assert live == [], live


@pytest.fixture
def hostile_case(live_server):
    """hostile_names deployed, a holder of its first lane in BENGKULU, and a case waiting at step A."""
    alur = live_server.alur
    [(deployment, _)], report = services.deploy(alur.uow(), [(DIAGRAM.name, DIAGRAM.read_bytes())], actor="admin")
    assert report.ok
    username = "klien.hostile"
    with alur.uow() as uow:
        uow.directory.add_user(username, PASSWORD_HASH, "Klien Uji", None, services.utcnow())
        uow.directory.grant(username, LANE_1, OFFICE)
        uow.commit()
    instance = services.start(alur.uow(), KEY, actor=username, office=OFFICE)
    with alur.uow(write=False) as uow:
        [item] = [w for w in uow.work_items.for_instance(instance.id) if w.state == "ready"]
    return username, instance, item


def test_the_task_page_and_the_diagram_show_hostile_names_as_text_and_run_nothing(browsing, hostile_case):
    username, instance, item = hostile_case
    page = browsing.new_page(username)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    browsing.stage = "task page"
    log_in(page, username)
    page.goto(f"/tugas/{item.id}")
    body = page.locator("body")
    for shown in (STEP_A, STEP_A_DOC, FIELD_LABEL):
        expect(body).to_contain_text(shown)
    expect(page.locator("input[name=catatan], textarea[name=catatan]")).to_have_value(FIELD_DEFAULT)
    assert_inert(page, dialogs)

    browsing.stage = "case page"
    page.goto(f"/kasus/{instance.id}")
    expect(page.locator("#diagram")).to_have_attribute("data-state", "drawn")
    expect(body).to_contain_text(PROCESS)
    labels = page.locator("#diagram svg[data-element-id]").text_content()
    # bpmn-js wraps long labels over lines (tspans); the words are there, as text
    assert "__pwned='step'" in labels and "<img" in labels and "<script>" in labels, labels
    assert page.locator("#diagram svg image, #diagram svg foreignObject").count() == 0
    assert_inert(page, dialogs)

    browsing.stage = "diagram XML opened on its own"
    # Rendered as a page, its XHTML <img onerror> and SVG onload would come alive: it is downloaded instead.
    with page.expect_download() as download:
        try:
            page.goto(f"/kasus/{instance.id}/diagram.bpmn")
        except PlaywrightError as err:
            assert "Download is starting" in str(err) or "ERR_ABORTED" in str(err), err
    assert download.value.suggested_filename == f"kasus-{instance.id}.bpmn"
    assert page.url.endswith(f"/kasus/{instance.id}")
    assert_inert(page, dialogs)
    headers = page.request.get(f"/kasus/{instance.id}/diagram.bpmn").headers
    assert headers["content-security-policy"].startswith("sandbox"), headers
    assert browsing.errors == [], browsing.errors


def test_the_modeler_shows_hostile_names_and_their_lint_report_as_text_and_runs_nothing(browsing, live_server):
    services.deploy(live_server.alur.uow(), [(DIAGRAM.name, DIAGRAM.read_bytes())], actor="admin")
    page = browsing.new_page("penerap")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    browsing.stage = "modeler"
    page.goto("/masuk")
    form = page.locator('form[action^="/masuk"]')
    form.locator("input[name=username]").fill("penerap")
    form.locator("input[name=password]").fill(demo.DEMO_PASSWORD)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.goto("/rancangan")
    page.locator("#source").select_option(f"{KEY}:1")
    with page.expect_navigation(url=re.compile(r"/rancangan/\d+$")):
        page.locator("form.copy-draft button[type=submit]").click()
    expect(page.locator("#modeler")).to_have_attribute("data-state", "ready")
    expect(page.locator("main h1, h1").last).to_contain_text(PROCESS)
    assert PROCESS in page.title()
    labels = page.locator("#modeler-canvas svg[data-element-id]").text_content()
    assert "__pwned='step'" in labels and "<script>" in labels, labels
    assert_inert(page, dialogs)

    browsing.stage = "modeler: validate"
    page.locator('#modeler button[data-action="validate"]').click()
    report = page.locator("#modeler-report")
    expect(report).to_be_visible()
    expect(report).to_have_attribute("data-errors", "0")
    # the warning about step B quotes its name, which holds a <script>: shown as text
    expect(report).to_contain_text("2. <script>window.__pwned='step2'</script> Periksa")
    assert_inert(page, dialogs)
    assert browsing.errors == [], browsing.errors
