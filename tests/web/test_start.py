"""Mulai layanan: which services a user may start, starting one, and the office of a template SOP's case."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from engine import services
from tests.conftest import fixture_file
from tests.web.helpers import SOP000, SOP001, SOP002, SOP003, SOP004, SOP_KEYS, flashes, location, text

SERVICE_LINK = re.compile(r'<h2><a href="/layanan/([a-z0-9_]+)">')


def offered(browser) -> list[str]:
    response = browser.get("/layanan")
    assert response.status_code == 200
    return SERVICE_LINK.findall(text(response))


def started_case(site, response):
    assert response.status_code == 302
    match = re.fullmatch(r"/kasus/(\d+)", location(response))
    assert match, location(response)
    return site.instance(int(match.group(1)))


@pytest.mark.parametrize(("username", "keys"), [
    ("klien.malut", [SOP000]),
    ("duta-layanan.malut", []),
    ("pemohon.dki", [SOP002]),
    ("ka-kanwil.dki", [SOP001]),
    ("pelapor.babel", [SOP003]),
    ("masyarakat.bengkulu", [SOP004]),
    ("admin", list(SOP_KEYS)),
])
def test_the_service_list_offers_only_sops_whose_start_lane_the_user_holds(site, username, keys):
    assert offered(site.browser(username)) == keys


def test_a_user_without_a_start_role_is_told_there_is_nothing_to_start(site):
    page = text(site.browser("duta-layanan.malut").get("/layanan"))
    assert '<p class="empty">' in page


def test_the_start_page_shows_the_office_the_case_will_belong_to(site):
    response = site.browser("klien.malut").get(f"/layanan/{SOP000}")
    page = text(response)
    assert response.status_code == 200
    assert "<strong>MALUT</strong>" in page
    assert '<input type="hidden" name="office" value="MALUT">' in page  # a browser posts the office it shows
    assert 'name="csrf_token"' in page


def test_starting_a_service_creates_a_numbered_case_and_redirects_to_it(site):
    browser = site.browser("klien.malut")
    instance = started_case(site, browser.post(f"/layanan/{SOP000}"))
    year = datetime.now(UTC).year
    assert re.fullmatch(rf"SOP000-{year}-\d{{4}}", instance.number)
    assert (instance.key, instance.office, instance.started_by, instance.status) == \
        (SOP000, "MALUT", "klien.malut", "running")
    page = text(browser.get(f"/kasus/{instance.id}"))
    assert any(instance.number in m for m in flashes(page, "success"))
    assert site.only_ready(instance.id).step_id == "Langkah_1"


def test_case_numbers_count_up_per_sop_and_year(site):
    browser = site.browser("klien.malut")
    first = started_case(site, browser.post(f"/layanan/{SOP000}"))
    second = started_case(site, browser.post(f"/layanan/{SOP000}"))
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1
    assert second.number[:-4] == first.number[:-4]


@pytest.mark.parametrize(("username", "key"), [
    ("klien.malut", SOP002),
    ("duta-layanan.malut", SOP000),  # a lane of the SOP, but not its start lane
    ("pemohon.dki", SOP000),
    ("klien.malut", "no_such_sop"),
])
def test_starting_a_service_the_user_may_not_start_is_404(site, username, key):
    browser = site.browser(username)
    before = len(site.instances())
    assert browser.get(f"/layanan/{key}").status_code == 404
    assert browser.post(f"/layanan/{key}").status_code == 404
    for office in ("MALUT", "DKI", "NOWHERE"):  # naming an office, as the form does, changes nothing
        assert browser.post(f"/layanan/{key}", {"office": office}).status_code == 404
    assert len(site.instances()) == before


def test_the_start_lane_holder_of_another_office_may_not_start_an_office_sop(site):
    elsewhere = site.user(("Klien", site.office()))
    browser = site.browser(elsewhere)
    assert SOP000 not in offered(browser)
    assert browser.post(f"/layanan/{SOP000}").status_code == 404


def test_the_template_sop_starts_in_the_one_office_where_the_user_holds_its_start_role(site):
    office = site.office()
    head = site.user(("Ka Kanwil", office))
    browser = site.browser(head)
    assert offered(browser) == [SOP001]
    assert f"<strong>{office}</strong>" in text(browser.get(f"/layanan/{SOP001}"))
    instance = started_case(site, browser.post(f"/layanan/{SOP001}"))
    assert instance.office == office
    assert started_case(site, browser.post(f"/layanan/{SOP001}", {"office": office})).office == office
    assert re.fullmatch(rf"SOP001-{datetime.now(UTC).year}-\d{{4}}", instance.number)
    first = site.only_ready(instance.id)
    assert (first.role, first.office) == ("Ka Kanwil", office)


def test_a_user_heading_two_offices_must_choose_the_office_of_a_template_case(site):
    one, two = site.office(), site.office()
    head = site.user(("Ka Kanwil", one), ("Ka Kanwil", two))
    browser = site.browser(head)
    page = text(browser.get(f"/layanan/{SOP001}"))
    assert f'<option value="{one}"' in page and f'<option value="{two}"' in page
    before = len(site.instances())
    response = browser.post(f"/layanan/{SOP001}")
    assert response.status_code == 400
    assert re.search(r'<div class="field invalid">\s*<label for="office">.*?<p class="field-error"', text(response),
                     re.DOTALL)
    assert browser.post(f"/layanan/{SOP001}", {"office": "MALUT"}).status_code == 400
    assert len(site.instances()) == before
    assert started_case(site, browser.post(f"/layanan/{SOP001}", {"office": two})).office == two


def test_an_admin_chooses_the_office_of_a_template_case(site):
    browser = site.browser("admin")
    assert browser.post(f"/layanan/{SOP001}").status_code == 400
    assert started_case(site, browser.post(f"/layanan/{SOP001}", {"office": "BABEL"})).office == "BABEL"


def test_an_office_sop_cannot_be_started_in_another_office_through_the_form(site):
    browser = site.browser("admin")
    response = browser.post(f"/layanan/{SOP000}", {"office": "DKI"})
    assert response.status_code == 400
    assert started_case(site, browser.post(f"/layanan/{SOP000}")).office == "MALUT"


def test_an_sop_whose_start_event_is_in_no_lane_starts_for_anyone_holding_a_role_but_not_for_a_user_without_one(site):
    office = site.office()
    name, xml = fixture_file("two_steps_timer.bpmn")
    xml = xml.replace(b"<bpmn:flowNodeRef>s</bpmn:flowNodeRef>", b"").replace(b'id="two_steps"', b'id="open_start"')
    services.deploy(site.alur.uow(), [(name, xml)], office=office)
    nobody = site.browser(site.user())
    assert nobody.get("/layanan/open_start").status_code == 404
    before = len(site.instances())
    assert nobody.post("/layanan/open_start", {"office": office}).status_code == 404
    assert len(site.instances()) == before
    anyone = site.browser(site.user(("Duta", office)))
    assert started_case(site, anyone.post("/layanan/open_start", {"office": office})).office == office
