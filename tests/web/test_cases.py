"""The case page and its diagram: what a lane holder of the case's office sees, and who is turned away."""

from __future__ import annotations

import re

import pytest

from tests.web.helpers import SOP000, SOP003, events, text

STEP_1 = "1. Klien mendatangi Front Office dan menemui Duta Pelayanan"
STEP_2 = "2. Menginventarisir jenis layanan per divisi"


@pytest.fixture
def case(site):
    """A fresh SOP 000 case (MALUT, six steps on its main path) whose first step is done."""
    instance = site.start(SOP000, "klien.malut")
    site.complete(site.only_ready(instance.id).id, "klien.malut", {"catatan": "Tamu tercatat"})
    return instance


def test_the_case_page_shows_number_status_progress_open_steps_and_history(site, case):
    response = site.browser("duta-layanan.malut").get(f"/kasus/{case.id}")
    page = text(response)
    assert response.status_code == 200
    assert re.search(rf'<h1>{case.number} <span class="status running">[^<]+</span></h1>', page)
    assert "MALUT" in page
    assert re.search(r"<strong>[^<]*\b1\b[^<]*\b6\b[^<]*</strong>", page)  # "1 of 6 steps ..."
    assert '<progress max="6" value="1">' in page
    following = site.only_ready(case.id)
    assert f'<a href="/tugas/{following.id}">{STEP_2}</a>' in page
    [started] = events(page, "instance_started")
    assert "klien.malut" in started
    [done] = events(page, "task_completed")
    assert STEP_1 in done and "klien.malut" in done and "Tamu tercatat" in done
    assert f'data-xml-url="/kasus/{case.id}/diagram.bpmn"' in page
    assert '"Langkah_1": "done"' in page and '"Langkah_2": "active"' in page


@pytest.mark.parametrize("who", ["klien.malut", "kasubag-kasubid.malut", "admin"])
def test_every_lane_holder_of_the_office_and_the_admin_may_see_the_case(site, case, who):
    assert site.browser(who).get(f"/kasus/{case.id}").status_code == 200


def test_an_office_admin_may_see_the_cases_of_that_office(site, case):
    assert site.browser(site.user(("admin", "MALUT"))).get(f"/kasus/{case.id}").status_code == 200
    assert site.browser(site.user(("admin", "DKI"))).get(f"/kasus/{case.id}").status_code == 404


def test_a_user_of_another_office_gets_404_and_learns_nothing_about_the_case(site, case):
    for outsider in ("pemohon.dki", site.user(("Duta Layanan", site.office())), site.user()):
        response = site.browser(outsider).get(f"/kasus/{case.id}")
        page = text(response)
        assert response.status_code == 404  # as for an id that does not exist
        assert case.number not in page and "MALUT" not in page and STEP_1 not in page


def test_a_holder_of_a_role_of_another_sop_in_the_same_office_gets_403(site):
    instance = site.start(SOP003, "pelapor.babel")
    other_sop = site.user(("Klien", "BABEL"))
    assert site.browser(other_sop).get(f"/kasus/{instance.id}").status_code == 403


@pytest.mark.parametrize("path", ["/kasus/999999", "/kasus/999999/diagram.bpmn", "/kasus/abc", "/kasus/-1"])
def test_an_unknown_case_is_404(site, path):
    assert site.browser("admin").get(path).status_code == 404


def test_the_diagram_is_served_as_bpmn_xml_to_whoever_may_see_the_case(site, case):
    response = site.browser("duta-layanan.malut").get(f"/kasus/{case.id}/diagram.bpmn")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    body = response.get_data(as_text=True)
    assert "definitions" in body and 'id="Langkah_1"' in body
    assert "private" in response.headers["Cache-Control"]


def test_the_diagram_is_refused_to_a_user_who_may_not_see_the_case(site, case):
    response = site.browser("pemohon.dki").get(f"/kasus/{case.id}/diagram.bpmn")
    assert response.status_code == 404  # another office: as for a case that does not exist
    assert "definitions" not in text(response)


def test_a_completed_case_shows_its_completed_status_and_no_open_step(site, case):
    site.finish(case.id, "MALUT")
    page = text(site.browser("klien.malut").get(f"/kasus/{case.id}"))
    assert re.search(rf'<h1>{case.number} <span class="status completed">[^<]+</span></h1>', page)
    assert '<progress max="6" value="6">' in page
    assert 'href="/tugas/' not in page  # no open step
    assert len(events(page, "task_completed")) == 6
    assert len(events(page, "instance_completed")) == 1


def test_the_case_page_of_a_running_case_shows_who_claimed_an_open_step(site, case):
    following = site.only_ready(case.id)
    site.claim(following.id, "duta-layanan.malut")
    page = text(site.browser("klien.malut").get(f"/kasus/{case.id}"))
    assert "<td>duta-layanan.malut</td>" in page
    [taken] = events(page, "task_claimed")
    assert STEP_2 in taken and "duta-layanan.malut" in taken


OUT_OF_RANGE = ("BUG in webui/cases.py show()/diagram() (the <int:instance_id> routes): an id beyond the database's "
                "integer range reaches the query and fails there (PostgreSQL: NumericValueOutOfRange beyond "
                "2147483647; SQLite: OverflowError beyond 2**63-1), so an unknown case gives 500 instead of 404")


@pytest.mark.parametrize("path", ["/kasus/{n}", "/kasus/{n}/diagram.bpmn"])
@pytest.mark.parametrize("number", [2**31, 2**63, 10**20], ids=["int32", "int64", "huge"])
def test_a_case_number_beyond_the_database_range_is_404(site, request, path, number):
    assert site.browser("admin").get(path.format(n=number)).status_code == 404


def test_entered_text_is_shown_escaped_in_the_history(site):
    instance = site.start(SOP000, "klien.malut")
    item = site.only_ready(instance.id)
    site.browser("klien.malut").upload(f"/tugas/{item.id}", {"catatan": "<script>alert('x')</script>"})
    page = text(site.browser("klien.malut").get(f"/kasus/{instance.id}"))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page
