"""Browser fixtures: Debian's Chromium driven by Playwright, a live Alur server, and screenshots when a test fails."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters import demo
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
BPMN_JS = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-navigated-viewer.production.min.js"
# The launch arguments that work on these machines (see tools/render/render.py).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (rep_setup, rep_call, rep_teardown) for fixtures to look at."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(item) -> bool:
    return any(getattr(getattr(item, f"rep_{when}", None), "failed", False) for when in ("setup", "call"))


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium (Playwright's own browser download is blocked here)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium")
    if not BPMN_JS.exists():
        pytest.skip(f"{BPMN_JS} is missing: run `npm install` at the repository root")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@dataclass
class LiveServer:
    url: str
    alur: object
    accounts: list[tuple[str, str, str]]


@pytest.fixture
def live_server(tmp_path):
    """The web UI on a fresh, seeded SQLite database, served by werkzeug on a free local port."""
    from werkzeug.serving import make_server

    from webui import create_app

    alur = make_app(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path)
    accounts = demo.seed(alur)
    app = create_app({"SECRET_KEY": "test", "ATTACHMENTS_DIR": str(tmp_path / "files")}, alur=alur)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="alur-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", alur, accounts)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        alur.engine.dispose()


class Browsing:
    """The browser contexts of one test, the console errors of their pages, and what the test is doing now."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.errors: list[str] = []
        self.stage = "setup"  # set by the test ("Langkah_3 as tim-yankomas.bengkulu"); named in errors and artifacts

    def new_page(self, label: str):
        """A page in a fresh context; its console errors and uncaught exceptions are collected under `label`."""
        context = self.browser.new_context(base_url=self.base_url, viewport={"width": 1280, "height": 900},
                                           accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("console", lambda message: self._console(label, message))
        page.on("pageerror", lambda error: self.errors.append(f"{label} [{self.stage}]: uncaught {error}"))
        return page

    def _console(self, label: str, message) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url") or ""
        if "favicon" in where or "favicon" in message.text:
            return  # the browser asks for /favicon.ico on its own; Alur has none
        self.errors.append(f"{label} [{self.stage}]: console error {message.text!r} at {where}")

    @staticmethod
    def _stem(name: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)

    def clear_artifacts(self, name: str) -> None:
        """Remove what an earlier failure of this test saved, so it is not taken for this run's."""
        for old in ARTIFACTS.glob(f"{self._stem(name)}-*"):
            old.unlink()

    def save_artifacts(self, name: str) -> list[Path]:
        """A full-page screenshot and the HTML of every page still open, and the console errors seen."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = self._stem(name)
        saved = []
        for c, context in enumerate(self.browser.contexts):
            for p, page in enumerate(context.pages):
                base = ARTIFACTS / f"{stem}-{c}-{p}"
                try:
                    page.screenshot(path=str(base.with_suffix(".png")), full_page=True, timeout=TIMEOUT_MS)
                    saved.append(base.with_suffix(".png"))
                    base.with_suffix(".html").write_text(f"<!-- {page.url} -->\n{page.content()}", encoding="utf-8")
                    saved.append(base.with_suffix(".html"))
                except Exception as err:  # noqa: BLE001 - a crashed page must not hide the other pages
                    base.with_suffix(".txt").write_text(f"{page.url}: could not be saved: {err}\n", encoding="utf-8")
        console = ARTIFACTS / f"{stem}-console.txt"
        console.write_text(f"failed during: {self.stage}\n" + "".join(f"{line}\n" for line in self.errors),
                           encoding="utf-8")
        saved.append(console)
        return saved


@pytest.fixture
def browsing(request, browser, live_server):
    """Opens pages for a test; when the test fails, saves every open page into test-artifacts/browser/."""
    session = Browsing(browser, live_server.url)
    session.clear_artifacts(request.node.name)
    yield session
    try:
        if _failed(request.node):
            saved = session.save_artifacts(request.node.name)
            lines = [f"failed during: {session.stage}", *map(str, saved)]
            request.node.add_report_section("teardown", "browser artifacts", "\n".join(lines))
    finally:
        for context in list(browser.contexts):
            context.close()
