"""Offices: creating one, editing its time zone, counting and hours, and its days off or on."""

from __future__ import annotations

import re

from tests.web.helpers import field_block, field_error, flashes, location, text, unique


def office_form(**values) -> dict:
    base = {"name": "Kantor Uji", "timezone": "Asia/Makassar", "time_mode": "working", "schedule": ""}
    return {**base, **values}


def days_on_page(page: str) -> list[str]:
    return re.findall(r'<tr data-day="([^"]+)">', page)


def test_a_global_admin_creates_an_office_and_sees_it_listed(site):
    code = unique("KT")
    browser = site.browser("admin")
    response = browser.post("/kelola/kantor", office_form(code=code, name="Kantor Uji Baru"))
    assert location(response) == f"/kelola/kantor/{code}"
    assert f"Office {code} was created." in flashes(text(browser.get(location(response))), "success")
    page = text(browser.get("/kelola/kantor"))
    assert re.search(rf'<tr data-office="{code}">.*?Kantor Uji Baru.*?Asia/Makassar', page, re.DOTALL)


def test_creating_an_office_with_a_taken_code_changes_nothing(site):
    response = site.browser("admin").post("/kelola/kantor", office_form(code="MALUT", name="Tiruan"))
    assert response.status_code == 400
    assert field_error(text(response), "code") == "An office with this code exists already."
    with site.alur.uow(write=False) as uow:
        assert uow.directory.office("MALUT").name == "Kanwil Maluku Utara"


def test_editing_an_office_saves_its_name_time_zone_counting_and_hours(site):
    code = site.office()
    browser = site.browser("admin")
    response = browser.post(f"/kelola/kantor/{code}", office_form(
        name="Kantor Diubah", timezone="Asia/Jayapura", schedule="mon-fri 08:00-16:00; sat-sun off"))
    assert location(response) == f"/kelola/kantor/{code}"
    page = text(browser.get(location(response)))
    assert 'value="Kantor Diubah"' in field_block(page, "name")
    assert 'value="Asia/Jayapura"' in field_block(page, "timezone")
    assert "08:00-16:00" in field_block(page, "schedule")
    with site.alur.uow(write=False) as uow:
        office = uow.directory.office(code)
    assert (office.name, office.timezone, office.time_mode) == ("Kantor Diubah", "Asia/Jayapura", "working")


def test_a_bad_time_zone_is_shown_at_its_field_and_what_was_typed_is_kept(site):
    code = site.office()
    response = site.browser("admin").post(f"/kelola/kantor/{code}", office_form(name="Nama Baru",
                                                                               timezone="Asia/Bandung"))
    page = text(response)
    assert response.status_code == 400
    assert field_error(page, "timezone").startswith("Enter a time zone such as Asia/Jakarta")
    assert 'value="Asia/Bandung"' in field_block(page, "timezone")
    assert 'value="Nama Baru"' in field_block(page, "name")
    with site.alur.uow(write=False) as uow:
        assert uow.directory.office(code).timezone == "Asia/Jakarta"


def test_bad_working_hours_are_shown_at_their_field(site):
    code = site.office()
    response = site.browser("admin").post(f"/kelola/kantor/{code}", office_form(schedule="senin pagi"))
    assert response.status_code == 400
    assert field_error(text(response), "schedule").startswith("Working hours:")


def test_an_office_day_off_is_added_listed_and_cleared(site):
    code = site.office()
    browser = site.browser("admin")
    response = browser.post(f"/kelola/kantor/{code}/hari", {"day": "2031-03-04", "kind": "holiday",
                                                             "note": "Hari jadi kota"})
    assert location(response) == f"/kelola/kantor/{code}"
    page = text(browser.get(location(response)))
    assert days_on_page(page) == ["2031-03-04"] and "Hari jadi kota" in page
    browser.post(f"/kelola/kantor/{code}/hari", {"day": "2031-03-04", "kind": "clear"})
    assert days_on_page(text(browser.get(f"/kelola/kantor/{code}"))) == []
    kinds = [e.data.get("kind", "-") for e in site_events(site, "office_calendar_changed")
             if e.data.get("office") == code]
    assert kinds == ["holiday", None]


def site_events(site, kind):
    with site.alur.uow(write=False) as uow:
        return [e for e in uow.audit.all() if e.type == kind]


def test_a_bad_day_is_shown_at_its_field(site):
    code = site.office()
    response = site.browser("admin").post(f"/kelola/kantor/{code}/hari", {"day": "31-02-2031", "kind": "holiday"})
    assert response.status_code == 400
    assert field_error(text(response), "day") == "Enter a date as YYYY-MM-DD."


def test_an_unknown_office_is_404(site):
    browser = site.browser("admin")
    assert browser.get("/kelola/kantor/NOWHERE").status_code == 404
    assert browser.post("/kelola/kantor/NOWHERE", office_form()).status_code == 404
    assert browser.post("/kelola/kantor/NOWHERE/hari", {"day": "2031-01-02", "kind": "holiday"}).status_code == 404
