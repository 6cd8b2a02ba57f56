"""The Content-Security-Policy lets bpmn-js work: the case diagram (viewer) and the modeler load, draw and edit in
Chromium with no CSP violation, while the policy really is enforced (a violation made on purpose is reported)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine import services
from tests.browser.test_modeler import wait_ready
from tests.browser.test_walk_sop import diagram_markers, log_in, navigate, visit

pytestmark = pytest.mark.browser

KEY = "sop_003_pengaduan_masyarakat"
# Collects every violation the page reports, from before its first script runs.
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
    `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || '?'}:${e.lineNumber}`));
"""


def violations(page, console: list[str]) -> list[str]:
    return page.evaluate("window.__csp || []") + [line for line in console if "Content Security Policy" in line]


def open_page(browsing, label: str):
    page = browsing.new_page(label)
    page.add_init_script(LISTEN)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    return page, console


def check_policy_is_enforced(page, console) -> None:
    """A test that found no violation proves something only if a violation would have been seen."""
    before = len(violations(page, console))
    page.evaluate("""() => {
        const img = document.createElement('img'); img.src = 'https://example.invalid/probe.png';
        document.body.appendChild(img);
        const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
        document.body.appendChild(s);
    }""")
    page.wait_for_function("window.__csp.length >= 2")
    found = violations(page, console)[before:]
    assert any(v.startswith("img-src") for v in found), found
    assert any(v.startswith("script-src") for v in found), found
    assert page.evaluate("window.__inline") is None, "an inline script ran"


def test_the_case_diagram_draws_under_the_csp_without_violations(live_server, browsing):
    starter = next(user for user, lane, office in live_server.accounts if lane == "Pelapor")
    office = next(o for user, lane, o in live_server.accounts if user == starter)
    case = services.start(live_server.alur.uow(), KEY, actor=starter, office=office)
    page, console = open_page(browsing, starter)
    browsing.stage = "log in"
    log_in(page, starter)
    browsing.stage = "case diagram"
    response = page.goto(f"/kasus/{case.id}")
    assert response.ok
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert diagram_markers(page, "alur-active"), "the waiting step is marked on the drawn diagram"
    assert page.locator("#diagram svg .djs-element").count() > 10
    page.locator("#diagram .djs-element.alur-active").first.click()  # interaction: no script or style refused
    assert violations(page, console) == []
    assert browsing.errors == []
    check_policy_is_enforced(page, console)


def test_the_modeler_loads_draws_and_edits_under_the_csp_without_violations(live_server, browsing):
    page, console = open_page(browsing, "analis")
    browsing.stage = "log in"
    log_in(page, "analis")
    browsing.stage = "modeler"
    visit(page, "/rancangan")
    page.locator("#source").select_option(f"{KEY}:1")
    navigate(page, page.locator("form.copy-draft button[type=submit]").click, r"/rancangan/\d+$")
    wait_ready(page)
    shapes = page.locator('#modeler-canvas .djs-shape[data-element-id="Langkah_1"]')
    expect(shapes).to_have_count(1)
    shapes.click()
    expect(page.locator("#modeler-panel")).not_to_have_attribute("data-kind", "none")
    # The context pad and palette are drawn by bpmn-js with inline styles: open both.
    expect(page.locator(".djs-context-pad")).to_have_count(1)
    assert page.locator(".djs-palette .entry").count() > 5
    page.keyboard.press("Escape")
    assert re.fullmatch(r".*/rancangan/\d+", page.url)
    assert violations(page, console) == []
    assert browsing.errors == []
    check_policy_is_enforced(page, console)
