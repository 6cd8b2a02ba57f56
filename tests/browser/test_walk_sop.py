"""One whole case of SOP 004 (Pelayanan Komunikasi Masyarakat) walked in headless Chromium, actor by actor.

Each step is done by the demo account holding its lane's role at BENGKULU: log in, find the step in the inbox
(claiming it once first), open it, tick its Kelengkapan, decide "Ya" at the audience question, attach a PDF once,
write a note, submit, log out. The actors share one browser one after the other, as officials at a shared counter
PC would; the login page shows its form only to a visitor who is logged out, so each login also proves the logout
before it. The finished case page must show the case completed, the progress full, every step in its history in
order, the attachment downloadable and every step marked done on the bpmn-js diagram; no page may log a console
error. Selectors use names, hrefs and data attributes only, never the interface texts, which are translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from adapters import demo
from engine import xml

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
KEY = "sop_004_yankomas"
BPMN = ROOT / "bpmn" / f"{KEY}.bpmn"
OFFICE = "BENGKULU"
STEPS = ["Langkah_1", "Langkah_2", "Langkah_3", "Langkah_4a", "Langkah_4b", "Langkah_4c", "Langkah_4d",
         "Langkah_5", "Langkah_6", "Langkah_7"]
DECISION_STEP, DECISION_GATEWAY, DECISION = "Langkah_4d", "Keputusan_4d", "Ya"
CLAIM_STEP = "Langkah_2"
ATTACH_STEP = "Langkah_3"
FINAL_VIEWER_LANE = "Kakanwil"
PDF_NAME = "disposisi.pdf"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
DIAGRAM_MARKERS = ("alur-done", "alur-active", "alur-overdue", "alur-current")


@dataclass(frozen=True)
class Step:
    id: str
    name: str
    lane: str
    kelengkapan: str | None
    output: str | None


def _property(task, name):
    for prop in task.iter(f"{{{xml.NSMAP['camunda']}}}property"):
        if prop.get("name") == name:
            return prop.get("value")
    return None


def read_diagram(path: Path) -> tuple[str, dict[str, Step], dict[str, str]]:
    """The start event's lane, the user tasks by id, and the gateway's outgoing flows (name -> target)."""
    tree, problem = xml.parse(path.read_bytes())
    assert problem is None, problem
    bpmn = xml.NSMAP["bpmn"]
    lane_of = {ref.text.strip(): lane.get("name") for lane in tree.iter(f"{{{bpmn}}}lane")
               for ref in lane.findall(f"{{{bpmn}}}flowNodeRef")}
    (start,) = tree.iter(f"{{{bpmn}}}startEvent")
    steps = {task.get("id"): Step(task.get("id"), task.get("name"), lane_of[task.get("id")],
                                  _property(task, "kelengkapan"), _property(task, "output"))
             for task in tree.iter(f"{{{bpmn}}}userTask")}
    choices = {flow.get("name"): flow.get("targetRef") for flow in tree.iter(f"{{{bpmn}}}sequenceFlow")
               if flow.get("sourceRef") == DECISION_GATEWAY}
    return lane_of[start.get("id")], steps, choices


def navigate(page, action, url_pattern: str):
    """Run `action` (a click) and wait for the navigation it causes to end at a URL matching `url_pattern`."""
    with page.expect_navigation(url=re.compile(url_pattern)) as navigation:
        action()
    response = navigation.value
    assert response is not None and response.ok, f"{page.url}: HTTP {response.status if response else '?'}"
    expect(page.locator(".flash.error")).to_have_count(0)


def visit(page, path: str):
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: HTTP {response.status if response else '?'}"


def log_in(page, username: str):
    visit(page, "/masuk")
    form = page.locator('form[action^="/masuk"]')
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(demo.DEMO_PASSWORD)
    navigate(page, form.locator("button[type=submit]").click, r"/tugas$")


def log_out(page):
    navigate(page, page.locator('form[action="/keluar"] button').click, r"/masuk")
    expect(page.locator('form[action="/keluar"]')).to_have_count(0)


def diagram_markers(page, marker: str) -> set[str]:
    """Ids of the diagram elements bpmn-js drew with `marker`, after waiting for the drawing to finish."""
    box = page.locator("#diagram")
    expect(box).to_have_attribute("data-state", re.compile(r"drawn|failed"))
    assert box.get_attribute("data-state") == "drawn", f"bpmn-js could not draw the diagram: {box.inner_text()}"
    return set(page.locator(f".djs-element.{marker}").evaluate_all("els => els.map(e => e.dataset.elementId)"))


def start_case(page, alur) -> tuple[int, str]:
    """Start SOP 004 from the service list; return the case id and number."""
    visit(page, "/layanan")
    navigate(page, page.locator(f'a[href="/layanan/{KEY}"]').click, rf"/layanan/{KEY}$")
    navigate(page, page.locator('main form[method="post"] button[type="submit"]').click, r"/kasus/\d+$")
    case_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".status.running")).to_have_count(1)
    with alur.uow(write=False) as uow:
        number = uow.instances.get(case_id).number
    expect(page.locator("h1")).to_contain_text(number)
    return case_id, number


def inbox_row(page, case_id: int):
    return page.locator("tr[data-item]").filter(has=page.locator(f'a[href="/kasus/{case_id}"]'))


def open_from_inbox(page, case_id: int, number: str, step: Step, user: str, *, claim: bool):
    """Find the case's row in Tugas Saya, optionally claim it, and open the step."""
    row = inbox_row(page, case_id)
    expect(row).to_have_count(1)
    expect(row.locator(f'a[href="/kasus/{case_id}"]')).to_have_text(number)
    link = row.locator('a[href^="/tugas/"]')
    expect(link).to_have_text(step.name)
    item_id = row.get_attribute("data-item")
    if claim:
        expect(row).not_to_contain_text(user)
        navigate(page, row.locator('form[action$="/ambil"] button[type="submit"]').click, r"/tugas\??$")
        expect(row.locator('form[action$="/lepas"]')).to_have_count(1)
        expect(row).to_contain_text(user)
    navigate(page, link.click, rf"/tugas/{re.escape(item_id)}$")


def complete_step(page, case_id: int, step: Step, done_before: list[str], pdf: Path):
    """Fill in and submit the task page of `step`; land on the case page."""
    expect(page.locator("h1")).to_have_text(step.name)
    assert diagram_markers(page, "alur-current") == {step.id}
    assert diagram_markers(page, "alur-done") == set(done_before)
    form = page.locator("form.task-form")
    boxes = form.locator("input[name=kelengkapan]")
    expect(boxes).to_have_count(1 if step.kelengkapan else 0)  # every SOP 004 step lists at most one input
    for i in range(boxes.count()):
        boxes.nth(i).check()
    decision = form.locator("input[name=keputusan]")
    if step.id == DECISION_STEP:
        expect(decision).to_have_count(2)
        form.locator(f"input[name=keputusan][value={DECISION}]").check()
    else:
        expect(decision).to_have_count(0)
    expect(form.locator("input[name=keluaran]")).to_have_count(1 if step.output else 0)
    if step.id == ATTACH_STEP:
        form.locator("input[name=keluaran]").set_input_files(str(pdf))
    form.locator("textarea[name=catatan]").fill(f"Catatan uji {step.id}")
    navigate(page, form.locator("button[type=submit]").click, rf"/kasus/{case_id}$")
    done = page.locator("ol.history > li.event.task_completed")
    expect(done).to_have_count(len(done_before) + 1)
    expect(done.last).to_contain_text(step.name)
    expect(done.last).to_contain_text(f"Catatan uji {step.id}")


def check_completed_case(page, case_id: int, steps: dict[str, Step]):
    """The finished case page: status, progress, history, attachment download and the diagram's markers."""
    visit(page, f"/kasus/{case_id}")
    expect(page.locator(".status.completed")).to_have_count(1)
    value, maximum = page.locator("progress").evaluate("p => [p.value, p.max]")
    assert value == maximum == len(STEPS), f"progress {value}/{maximum}"

    kinds = page.locator("ol.history > li.event").evaluate_all("els => els.map(e => e.classList[1])")
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed", kinds
    done = page.locator("ol.history > li.event.task_completed .what").all_inner_texts()
    assert len(done) == len(STEPS), done
    for text, step_id in zip(done, STEPS, strict=True):
        step = steps[step_id]
        assert step.name in text and demo.demo_username(step.lane, OFFICE) in text, (step_id, text)

    link = page.locator('ol.history a[href^="/lampiran/"]')
    expect(link).to_have_count(1)
    expect(link).to_have_text(PDF_NAME)
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename == PDF_NAME
    assert Path(download.path()).read_bytes() == PDF_BYTES

    assert diagram_markers(page, "alur-done") == set(STEPS)
    for step_id in STEPS:
        expect(page.locator(f'.djs-element.alur-done[data-element-id="{step_id}"]')).to_have_count(1)
    for marker in DIAGRAM_MARKERS[1:]:
        assert diagram_markers(page, marker) == set(), marker


def test_walk_sop_004_through_the_browser(live_server, browsing, tmp_path):
    start_lane, steps, choices = read_diagram(BPMN)
    assert set(steps) == set(STEPS)
    assert choices.get(DECISION) == "Langkah_5", choices
    accounts = set(live_server.accounts)
    for step in steps.values():
        assert (demo.demo_username(step.lane, OFFICE), step.lane, OFFICE) in accounts
    pdf = tmp_path / PDF_NAME
    pdf.write_bytes(PDF_BYTES)

    page = browsing.new_page("walk")
    starter = demo.demo_username(start_lane, OFFICE)
    browsing.stage = f"start as {starter}"
    log_in(page, starter)
    case_id, number = start_case(page, live_server.alur)
    log_out(page)

    for index, step_id in enumerate(STEPS):
        step = steps[step_id]
        user = demo.demo_username(step.lane, OFFICE)
        browsing.stage = f"{step_id} as {user}"
        log_in(page, user)
        open_from_inbox(page, case_id, number, step, user, claim=step_id == CLAIM_STEP)
        complete_step(page, case_id, step, STEPS[:index], pdf)
        log_out(page)

    viewer = demo.demo_username(FINAL_VIEWER_LANE, OFFICE)
    browsing.stage = f"completed case as {viewer}"
    log_in(page, viewer)
    expect(inbox_row(page, case_id)).to_have_count(0)
    check_completed_case(page, case_id, steps)
    log_out(page)

    assert not browsing.errors, "the browser logged errors:\n" + "\n".join(browsing.errors)
