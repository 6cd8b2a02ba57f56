"""Changing a deployed SOP in the browser's modeler, deploying it as version 2, and what happens to running cases.

An analyst opens SOP 003 version 1 as a draft, renames step 1 and sets its standard time in the side panel, deletes
step 2 on the canvas, saves and validates. A deployer deploys the draft as version 2 with a change note. Cases that
started on version 1 before the deploy stay on it (one is walked to its end there); a case started after the deploy
runs version 2, whose step 1 has the new name and standard time. The administrator's dry run of a migration lists the
version 1 case waiting at step 1 as movable and the one waiting at the deleted step 2 as blocked. The engine
completes steps for speed; every page the people use is driven in Chromium, by names, ids and data attributes.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from adapters import demo
from engine import services, xml
from tests.browser.test_walk_sop import log_in, log_out, navigate, visit

pytestmark = pytest.mark.browser

KEY = "sop_003_pengaduan_masyarakat"
OFFICE = "BABEL"
STARTER = demo.demo_username("Pelapor", OFFICE)
RENAMED, OLD_NAME, NEW_NAME = "Langkah_1", "1. Menyampaikan laporan pengaduan", "1. Menerima laporan pengaduan"
OLD_SLA, NEW_SLA = "PT30M", "PT2H"
DELETED = "Langkah_2"
NOTE = "Langkah 1 berganti nama dan waktu baku 2 jam; langkah 2 dihapus"


def shape(page, element_id):
    return page.locator(f'#modeler-canvas .djs-shape[data-element-id="{element_id}"]')


def ready_items(alur, case_id):
    with alur.uow(write=False) as uow:
        return [w for w in uow.work_items.for_instance(case_id) if w.state == "ready"]


def complete_until(alur, case_id, stop_at=None):
    """Complete the case's steps as the demo holders of their lanes, until `stop_at` is ready or the case ends."""
    for _ in range(40):
        items = ready_items(alur, case_id)
        if not items or any(item.step_id == stop_at for item in items):
            return
        item = items[0]
        services.complete(alur.uow(), item.id, actor=demo.demo_username(item.lane, OFFICE))
    raise AssertionError(f"case {case_id} did not get to {stop_at or 'its end'}")


def start_v1_cases(alur):
    """Three cases on version 1: one half done, one waiting at step 1, one waiting at the step that goes away."""
    cases = {name: services.start(alur.uow(), KEY, actor=STARTER, office=OFFICE)
             for name in ("finishing", "at_renamed", "at_deleted")}
    complete_until(alur, cases["finishing"].id, "Langkah_3")
    complete_until(alur, cases["at_deleted"].id, DELETED)
    assert [w.step_id for w in ready_items(alur, cases["at_renamed"].id)] == [RENAMED]
    return cases


def open_version_in_modeler(page, version: int) -> int:
    visit(page, "/rancangan")
    page.locator("#source").select_option(f"{KEY}:{version}")
    navigate(page, page.locator("form.copy-draft button[type=submit]").click, r"/rancangan/\d+$")
    wait_ready(page)
    return int(page.url.rsplit("/", 1)[1])


def wait_ready(page):
    modeler = page.locator("#modeler")
    expect(modeler).to_have_attribute("data-state", re.compile(r"ready|failed"))
    assert modeler.get_attribute("data-state") == "ready", page.locator("#modeler-status").inner_text()


def edit_step_in_side_panel(page):
    """Select step 1 on the canvas; rename it and set its standard time in the side panel."""
    panel = page.locator("#modeler-panel")
    expect(panel).to_have_attribute("data-kind", "none")
    shape(page, RENAMED).click()
    expect(panel).to_have_attribute("data-kind", "task")
    expect(panel).to_have_attribute("data-element", RENAMED)
    expect(page.locator("#panel-name")).to_have_value(OLD_NAME)
    expect(page.locator("#panel-duration")).to_have_value(OLD_SLA)
    expect(page.locator("#panel-lane")).to_have_text("Pelapor")

    page.locator("#panel-name").fill(NEW_NAME)
    page.locator("#panel-name").press("Enter")
    page.locator("#panel-duration").fill("2 jam")
    page.locator("#panel-duration").press("Enter")
    expect(page.locator("#panel-duration-error")).to_be_visible()  # not an ISO duration: nothing changes
    page.locator("#panel-duration").fill(NEW_SLA.lower())
    page.locator("#panel-duration").press("Enter")
    expect(page.locator("#panel-duration-error")).to_be_hidden()
    expect(page.locator("#panel-duration")).to_have_value(NEW_SLA)
    expect(page.locator("#panel-duration-note")).to_have_text("2 jam")
    expect(page.locator("#modeler")).to_have_attribute("data-state", "dirty")
    # The canvas shows the new name, and the timer's label follows the new standard time.
    expect(shape(page, RENAMED)).to_contain_text("Menerima")
    shape(page, f"SLA_{RENAMED}").click()
    expect(panel).to_have_attribute("data-kind", "element")
    expect(page.locator("#panel-name")).to_have_value("Waktu baku 2 jam")


def delete_step_on_canvas(page):
    """Delete step 2 (its timer goes with it; bpmn-js joins step 1 to step 3) and its breach end event."""
    for element_id in (DELETED, f"SLA_Terlampaui_{DELETED}"):
        shape(page, element_id).click()
        page.locator('.djs-context-pad .entry[data-action="delete"]').click()
        expect(shape(page, element_id)).to_have_count(0)
    expect(shape(page, f"SLA_{DELETED}")).to_have_count(0)


def save_and_validate(page):
    page.locator('#modeler button[data-action="save"]').click()
    expect(page.locator("#modeler")).to_have_attribute("data-state", "saved")
    page.locator('#modeler button[data-action="validate"]').click()
    report = page.locator("#modeler-report")
    expect(report).to_be_visible()
    expect(report).to_have_attribute("data-errors", "0")
    # A problem naming an element selects it: the main-path note names the process, shown as its pool.
    note = report.locator(f'li.problem.info[data-element="{KEY}"] button.element')
    expect(note).to_have_count(1)
    note.click()
    expect(page.locator("#modeler-panel")).to_have_attribute("data-element", f"Participant_{KEY}")


def check_stored_draft(alur, draft_id):
    with alur.uow(write=False) as uow:
        draft = uow.drafts.get(draft_id)
    tree, problem = xml.parse(draft.xml)
    assert problem is None, problem
    bpmn = xml.NSMAP["bpmn"]
    tasks = {t.get("id"): t for t in tree.iter(f"{{{bpmn}}}userTask")}
    assert tasks[RENAMED].get("name") == NEW_NAME and DELETED not in tasks
    [timer] = [b for b in tree.iter(f"{{{bpmn}}}boundaryEvent") if b.get("attachedToRef") == RENAMED]
    assert timer.get("cancelActivity") == "false"
    assert timer.find(f".//{{{bpmn}}}timeDuration").text == NEW_SLA
    assert draft.row_version == 2 and draft.updated_by == "analis"


def deploy_in_modeler(page, draft_id):
    visit(page, f"/rancangan/{draft_id}")
    wait_ready(page)
    page.locator('#modeler button[data-action="deploy"]').click()
    dialog = page.locator("#deploy-dialog")
    expect(dialog).to_be_visible()
    dialog.locator('button[data-action="deploy-confirm"]').click()
    expect(dialog.locator("#deploy-error")).to_be_visible()  # a change note is required
    dialog.locator("#deploy-note").fill(NOTE)
    dialog.locator('button[data-action="deploy-confirm"]').click()
    expect(page.locator("#modeler")).to_have_attribute("data-deployed-version", "2")
    expect(dialog).to_be_hidden()
    expect(page.locator("#modeler-deployed strong")).to_have_text("2")


def check_version_2(alur):
    with alur.uow(write=False) as uow:
        deployment = uow.deployments.latest(KEY)
    assert (deployment.version, deployment.note, deployment.deployed_by) == (2, NOTE, "penerap")
    step = deployment.step(RENAMED)
    assert (step.name, step.sla) == (NEW_NAME, NEW_SLA)
    assert deployment.step(DELETED) is None and deployment.main_path[:2] == [RENAMED, "Langkah_3"]
    return deployment


def start_case_in_browser(page) -> int:
    visit(page, f"/layanan/{KEY}")
    navigate(page, page.locator('main form[method="post"] button[type="submit"]').click, r"/kasus/\d+$")
    return int(page.url.rsplit("/", 1)[1])


def check_new_case_runs_version_2(page, alur, case_id, deployment):
    [item] = ready_items(alur, case_id)
    assert (item.step_id, item.step_name) == (RENAMED, NEW_NAME)
    with alur.uow(write=False) as uow:
        due = services.due_time_for(uow, OFFICE, deployment)(item.ready_at, NEW_SLA)
        case = uow.instances.get(case_id)
    assert case.version == 2 and item.due_at == due
    visit(page, f"/kasus/{case_id}?lang=en")
    expect(page.locator(".meta").first).to_contain_text("Version 2")
    expect(page.locator(f'a[href="/tugas/{item.id}"]')).to_have_text(NEW_NAME)
    visit(page, f"/tugas/{item.id}?lang=en")
    expect(page.locator("h1")).to_have_text(NEW_NAME)
    expect(page.locator("main")).to_contain_text("Standard time: 2 hours")


def check_old_case_finished_on_version_1(page, alur, case_id):
    complete_until(alur, case_id)
    with alur.uow(write=False) as uow:
        case = uow.instances.get(case_id)
        done = [w.step_id for w in uow.work_items.for_instance(case_id) if w.state == "completed"]
    assert (case.status, case.version) == ("completed", 1)
    assert done[:3] == ["Langkah_1", DELETED, "Langkah_3"] and len(done) == 14
    visit(page, f"/kasus/{case_id}?lang=en")
    expect(page.locator(".status.completed")).to_have_count(1)
    expect(page.locator(".meta").first).to_contain_text("Version 1")
    history = page.locator("ol.history > li.event.task_completed .what")
    expect(history.first).to_contain_text(OLD_NAME)


def check_migration_dry_run(page, cases, after_id):
    visit(page, f"/kelola/proses/{KEY}/migrasi?dari=1&ke=2")
    movable = page.locator(f'#movable tr[data-case="{cases["at_renamed"].id}"]')
    expect(movable).to_have_count(1)
    expect(movable).to_contain_text(cases["at_renamed"].number)
    expect(movable).to_contain_text(f"{OLD_SLA} → {NEW_SLA}")
    blocked = page.locator(f'#blocked tr[data-case="{cases["at_deleted"].id}"]')
    expect(blocked).to_have_count(1)
    expect(blocked).to_contain_text(cases["at_deleted"].number)
    expect(blocked).to_contain_text(DELETED)
    for other in (cases["finishing"].id, after_id):  # a finished case and one already on version 2
        expect(page.locator(f'tr[data-case="{other}"]')).to_have_count(0)


def test_a_changed_sop_deployed_from_the_modeler_leaves_running_cases_on_their_version(live_server, browsing):
    alur = live_server.alur
    browsing.stage = "cases started on version 1"
    cases = start_v1_cases(alur)

    page = browsing.new_page("modeler")
    browsing.stage = "analyst edits version 1 in the modeler"
    log_in(page, "analis")
    draft_id = open_version_in_modeler(page, 1)
    expect(page.locator('#modeler button[data-action="deploy"]')).to_have_count(0)
    edit_step_in_side_panel(page)
    delete_step_on_canvas(page)
    save_and_validate(page)
    check_stored_draft(alur, draft_id)
    log_out(page)

    browsing.stage = "deployer deploys the draft"
    log_in(page, "penerap")
    deploy_in_modeler(page, draft_id)
    deployment = check_version_2(alur)
    log_out(page)

    browsing.stage = "a case started after the deploy"
    log_in(page, STARTER)
    after_id = start_case_in_browser(page)
    check_new_case_runs_version_2(page, alur, after_id, deployment)
    browsing.stage = "a case started before the deploy finishes on version 1"
    check_old_case_finished_on_version_1(page, alur, cases["finishing"].id)
    log_out(page)

    browsing.stage = "administrator's dry run of the migration"
    log_in(page, "admin")
    check_migration_dry_run(page, cases, after_id)
    log_out(page)

    assert not browsing.errors, "the browser logged errors:\n" + "\n".join(browsing.errors)


def test_a_new_sop_from_the_template_gets_its_standard_time_from_the_side_panel(live_server, browsing):
    page = browsing.new_page("template")
    browsing.stage = "deployer draws a new SOP from the template"
    log_in(page, "penerap")
    visit(page, "/rancangan")
    page.locator("#new-name").fill("Izin Uji Peta")
    navigate(page, page.locator("form.new-draft button[type=submit]").click, r"/rancangan/\d+$")
    draft_id = int(page.url.rsplit("/", 1)[1])
    wait_ready(page)
    for element_id in ("SLA_Langkah_1", "SLA_Terlampaui_Langkah_1"):  # the step loses its timer...
        shape(page, element_id).click()
        page.locator('.djs-context-pad .entry[data-action="delete"]').click()
    shape(page, "Langkah_1").click()
    expect(page.locator("#panel-duration")).to_have_value("")
    page.locator("#panel-duration").fill("P2D")  # ...and the side panel gives it one again
    page.locator("#panel-duration").press("Enter")
    expect(shape(page, "SLA_Langkah_1")).to_have_count(1)
    expect(shape(page, "SLA_Terlampaui_Langkah_1")).to_have_count(1)
    save_and_validate_template(page)

    page.locator('#modeler button[data-action="deploy"]').click()
    page.locator("#deploy-note").fill("SOP baru")
    page.locator('#deploy-dialog button[data-action="deploy-confirm"]').click()
    expect(page.locator("#modeler")).to_have_attribute("data-deployed-version", "1")
    with live_server.alur.uow(write=False) as uow:
        key = uow.drafts.get(draft_id).key
        deployment = uow.deployments.latest(key)
    assert key == "sop_izin_uji_peta" and deployment.step("Langkah_1").sla == "P2D"
    tree, _ = xml.parse(deployment_xml(live_server.alur, deployment))
    bpmn = xml.NSMAP["bpmn"]
    [timer] = tree.iter(f"{{{bpmn}}}boundaryEvent")
    assert (timer.get("id"), timer.get("cancelActivity"), timer.get("name")) == (
        "SLA_Langkah_1", "false", "Waktu baku 2 hari")
    breach = next(e for e in tree.iter(f"{{{bpmn}}}endEvent") if e.get("id") == "SLA_Terlampaui_Langkah_1")
    assert breach.find(f"{{{bpmn}}}escalationEventDefinition").get("escalationRef") == "Escalation_SLA"
    log_out(page)
    assert not browsing.errors, "the browser logged errors:\n" + "\n".join(browsing.errors)


def save_and_validate_template(page):
    page.locator('#modeler button[data-action="save"]').click()
    expect(page.locator("#modeler")).to_have_attribute("data-state", "saved")
    page.locator('#modeler button[data-action="validate"]').click()
    expect(page.locator("#modeler-report")).to_have_attribute("data-errors", "0")


def deployment_xml(alur, deployment) -> bytes:
    with alur.uow(write=False) as uow:
        return uow.deployments.xml(deployment.id)
