"""Processes and their versions: the version list, the XML, comparing, retiring, moving cases, lanes and roles."""

from __future__ import annotations

import html
import re

import pytest

from engine import caseadmin, services
from tests.conftest import ROOT
from tests.web.helpers import SOP000, SOP001, SOP003, events, flashes, location, text

STEP_2_OLD = b'name="2. Menginventarisir jenis layanan per divisi"'
STEP_2_NEW = b'name="2. Mencatat jenis layanan per divisi"'
TIMER_2 = b'<bpmn:timerEventDefinition id="TimerEventDefinition_Langkah_2">\n        <bpmn:timeDuration ' \
          b'xsi:type="bpmn:tFormalExpression">PT5M'


def seed_file(key: str) -> bytes:
    return (ROOT / "bpmn" / f"{key}.bpmn").read_bytes()


def deploy(site, key, data, note):
    results, _ = services.deploy(site.alur.uow(), [(f"{key}.bpmn", data)], actor="admin", note=note)
    return results[0][0]


def plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.fixture(scope="module")
def sop000(site):
    """Cases on version 1 of SOP 000 (one waiting at step 2, one suspended), then version 2 deployed.

    Version 2 renames step 2 and doubles its standard time (5 → 10 minutes).
    """
    at_step_2 = site.start(SOP000, "klien.malut")
    site.walk_to(at_step_2.id, "Langkah_2", "MALUT")
    suspended = site.start(SOP000, "klien.malut")
    caseadmin.suspend(site.alur.uow(), suspended.id, actor="admin", reason="menunggu berkas")
    data = seed_file(SOP000).replace(STEP_2_OLD, STEP_2_NEW).replace(TIMER_2, TIMER_2.replace(b"PT5M", b"PT10M"))
    deploy(site, SOP000, data, "Langkah 2 diperjelas")
    return {"at_step_2": at_step_2, "suspended": suspended}


def test_the_process_list_shows_each_sop_with_its_versions_and_running_cases(site, sop000):
    page = text(site.browser("admin").get("/kelola/proses"))
    row = re.search(rf'<tr data-key="{SOP000}">(.*?)</tr>', page, re.DOTALL).group(1)
    cells = [plain(c) for c in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
    assert cells[1:] == [SOP000, "MALUT", "2", "2", "2", "2"]


def test_the_version_page_shows_who_deployed_each_version_when_and_why(site, sop000):
    page = text(site.browser(site.user(("analyst", None))).get(f"/kelola/proses/{SOP000}"))
    v2 = re.search(r'<tr data-version="2" class="([^"]*)">(.*?)</tr>', page, re.DOTALL)
    v1 = re.search(r'<tr data-version="1" class="([^"]*)">(.*?)</tr>', page, re.DOTALL)
    assert "current" in v2.group(1) and "current" not in v1.group(1)
    assert "Langkah 2 diperjelas" in v2.group(2) and "by admin" in v2.group(2) and "WIT" in v2.group(2)
    assert "seed SOPs" in v1.group(2)
    assert "2 running of 2" in plain(v1.group(2)) and "0 running of 0" in plain(v2.group(2))
    assert f'href="/kelola/proses/{SOP000}/v1.bpmn"' in page
    assert "/pensiunkan" not in page, "an analyst sees no retire button"
    assert "/migrasi" not in page, "nor the migration"


def test_a_global_admin_sees_retire_compare_and_migrate_on_the_version_page(site, sop000):
    page = text(site.browser("admin").get(f"/kelola/proses/{SOP000}"))
    assert f'action="/kelola/proses/{SOP000}/v2/pensiunkan"' in page
    assert f'href="/kelola/proses/{SOP000}/migrasi?dari=1&amp;ke=2"' in page
    assert f'action="/kelola/proses/{SOP000}/beda"' in page and f'action="/kelola/proses/{SOP000}/migrasi"' in page
    assert f'href="/kelola/proses/{SOP000}/peran"' in page


def test_a_version_downloads_as_the_original_bpmn_file(site, sop000):
    response = site.browser("admin").get(f"/kelola/proses/{SOP000}/v1.bpmn")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert f"{SOP000}-v1.bpmn" in response.headers["Content-Disposition"]
    assert response.data == seed_file(SOP000)
    assert site.browser("admin").get(f"/kelola/proses/{SOP000}/v9.bpmn").status_code == 404


def test_the_diff_page_shows_the_changed_step_and_the_new_total_standard_time(site, sop000):
    response = site.browser("admin").get(f"/kelola/proses/{SOP000}/beda?dari=1&ke=2")
    page = text(response)
    assert response.status_code == 200
    name = re.search(r'<tr data-step="Langkah_2" data-field="name">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "Menginventarisir" in name and "2. Mencatat jenis layanan per divisi" in name
    sla = plain(re.search(r'<tr data-step="Langkah_2" data-field="sla">(.*?)</tr>', page, re.DOTALL).group(1))
    assert sla.endswith("Standard time 5 minutes 10 minutes")
    totals = plain(re.search(r'<section class="card totals">(.*?)</section>', page, re.DOTALL).group(1))
    assert "Version 1: 30 minutes" in totals and "version 2: 35 minutes" in totals
    assert 'id="steps-added"' not in page and 'id="lanes"' not in page


def test_comparing_a_version_with_itself_says_nothing_differs(site, sop000):
    page = text(site.browser("admin").get(f"/kelola/proses/{SOP000}/beda?dari=2&ke=2"))
    assert "the same steps, lanes, standard times and gateways" in page


@pytest.mark.parametrize("query", ["", "?dari=1", "?dari=x&ke=2", "?dari=1&ke=99999999999"])
def test_a_diff_without_two_version_numbers_goes_back_with_a_message(site, sop000, query):
    browser = site.browser("admin")
    response = browser.get(f"/kelola/proses/{SOP000}/beda{query}")
    assert location(response) == f"/kelola/proses/{SOP000}"
    assert "Choose the two versions" in " ".join(flashes(text(browser.get(location(response))), "error"))


def test_retiring_a_version_hides_it_from_new_cases_until_it_is_restored(site):
    deploy(site, SOP003, seed_file(SOP003) + b"<!-- v2 -->", "versi uji")
    browser = site.browser(site.user(("deployer", None)))
    response = browser.post(f"/kelola/proses/{SOP003}/v2/pensiunkan", {"reason": "salah unggah"})
    assert location(response) == f"/kelola/proses/{SOP003}"
    page = text(browser.get(location(response)))
    v2 = re.search(r'<tr data-version="2" class="([^"]*)">(.*?)</tr>', page, re.DOTALL)
    assert "retired" in v2.group(1) and "Retired" in v2.group(2)
    assert re.search(r'<tr data-version="1" class="[^"]*current', page)
    assert site.start(SOP003, "pelapor.babel").version == 1
    assert f"/kelola/proses/{SOP003}/v2/pulihkan" in page
    browser.post(f"/kelola/proses/{SOP003}/v2/pulihkan")
    assert site.start(SOP003, "pelapor.babel").version == 2


def test_the_migration_dry_run_lists_the_cases_that_move_and_the_blocked_ones_with_reasons(site, sop000):
    response = site.browser("admin").get(f"/kelola/proses/{SOP000}/migrasi?dari=1&ke=2")
    page = text(response)
    assert response.status_code == 200
    movable = re.search(r'<section class="card" id="movable">(.*?)</section>', page, re.DOTALL).group(1)
    blocked = re.search(r'<section class="card" id="blocked">(.*?)</section>', page, re.DOTALL).group(1)
    moving, held = sop000["at_step_2"], sop000["suspended"]
    assert moving.number in movable and "PT5M → PT10M" in plain(movable)
    assert held.number in blocked and "suspended" in plain(blocked) and held.number not in movable
    assert site.instance(moving.id).version == 1, "a dry run changes nothing"


def test_running_the_migration_moves_the_movable_cases_and_records_it(site, sop000):
    browser = site.browser("admin")
    response = browser.post(f"/kelola/proses/{SOP000}/migrasi?dari=1&ke=2")
    assert location(response) == f"/kelola/proses/{SOP000}/migrasi?dari=1&ke=2"
    page = text(browser.get(location(response)))
    assert "1 case moved to version 2." in flashes(page, "success")
    moved = sop000["at_step_2"]
    assert site.instance(moved.id).version == 2
    assert site.instance(sop000["suspended"].id).version == 1
    assert events(text(browser.get(f"/kasus/{moved.id}")), "instance_migrated")


def test_only_a_global_admin_may_plan_or_run_a_migration(site, sop000):
    for who in (site.user(("admin", "MALUT")), site.user(("deployer", None))):
        assert site.browser(who).get(f"/kelola/proses/{SOP000}/migrasi?dari=1&ke=2").status_code == 403
        assert site.browser(who).post(f"/kelola/proses/{SOP000}/migrasi?dari=1&ke=2").status_code == 403


def test_a_lane_nobody_holds_is_flagged_on_the_lane_role_page(site):
    browser = site.browser("admin")
    page = text(browser.get(f"/kelola/proses/{SOP001}/peran"))
    row = re.search(r'<tr data-lane="Pelaksana" class="([^"]*)">', page)
    assert row and "unheld" not in row.group(1)
    response = browser.post(f"/kelola/proses/{SOP001}/peran", {"lane": "Pelaksana", "role": "Pelaksana Baru"})
    assert location(response) == f"/kelola/proses/{SOP001}/peran"
    page = text(browser.get(location(response)))
    row = re.search(r'<tr data-lane="Pelaksana" class="unheld">(.*?)</tr>', page, re.DOTALL)
    assert row and "Nobody holds this role" in row.group(1) and 'value="Pelaksana Baru"' in row.group(1)
    browser.post(f"/kelola/proses/{SOP001}/peran", {"lane": "Pelaksana", "role": ""})
    assert 'class="unheld"' not in text(browser.get(f"/kelola/proses/{SOP001}/peran"))


def test_an_unknown_process_is_404(site):
    browser = site.browser("admin")
    for url in ("/kelola/proses/tidak_ada", "/kelola/proses/tidak_ada/v1.bpmn",
                "/kelola/proses/tidak_ada/beda?dari=1&ke=2", "/kelola/proses/tidak_ada/peran"):
        assert browser.get(url).status_code == 404, url
