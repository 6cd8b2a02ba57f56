"""Every page and action of the admin area turns away whoever may not use it: login first, then 403."""

from __future__ import annotations

import pytest

from tests.web.helpers import SOP000, is_error_page, location, text

# What an analyst may open: the area, the deploy page's check, and the read-only pages of processes.
ANALYST_ALLOWED = {"admin.index", "admin.upload", "admin.upload_check", "admin.processes", "admin.process",
                   "admin.version_xml", "admin.diff"}
CASE_ACTIONS = {"admin.case_suspend", "admin.case_resume", "admin.case_cancel"}


def admin_rules(site):
    """(endpoint, method, url) of every admin rule, its placeholders filled with things that exist."""
    case = site.start(SOP000, "klien.malut")
    values = {"key": SOP000, "version": 1, "username": "klien.malut", "code": "MALUT", "instance_id": case.id}
    found = []
    for rule in site.flask.url_map.iter_rules():
        if not (rule.rule.startswith("/kelola") or rule.endpoint in CASE_ACTIONS):
            continue
        path = rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]
        found.extend((rule.endpoint, method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return sorted(found)


@pytest.fixture(scope="module")
def rules(site):
    found = admin_rules(site)
    assert len(found) >= 25, "the admin area lost pages"
    return found


def send(browser, method, url):
    return browser.get(url) if method == "GET" else browser.post(url, {"reason": "x", "role": "Klien"})


def test_the_walk_covers_every_page_of_the_contract(rules):
    paths = {url for _, _, url in rules}
    for expected in ("/kelola", "/kelola/unggah", "/kelola/proses", f"/kelola/proses/{SOP000}",
                     f"/kelola/proses/{SOP000}/v1.bpmn", f"/kelola/proses/{SOP000}/beda",
                     f"/kelola/proses/{SOP000}/migrasi", f"/kelola/proses/{SOP000}/peran", "/kelola/kasus",
                     "/kelola/pengguna", "/kelola/pengguna/baru", "/kelola/pengguna/klien.malut", "/kelola/kantor",
                     "/kelola/kantor/MALUT", f"/kelola/proses/{SOP000}/v1/pensiunkan"):
        assert expected in paths


def test_an_anonymous_visitor_is_sent_to_the_login_page_everywhere(site, rules):
    browser = site.browser()
    for endpoint, method, url in rules:
        response = send(browser, method, url)
        assert response.status_code == 302, (endpoint, method, url, response.status_code)
        assert location(response).startswith("/masuk"), (endpoint, method, url)


def test_an_ordinary_lane_user_gets_403_everywhere(site, rules):
    browser = site.browser("klien.malut")
    for endpoint, method, url in rules:
        response = send(browser, method, url)
        assert response.status_code == 403, (endpoint, method, url, response.status_code)
        assert is_error_page(text(response))


def test_an_analyst_gets_403_on_every_page_for_admins_and_deployers(site, rules):
    browser = site.browser(site.user(("analyst", None), prefix="analis"))
    for endpoint, method, url in rules:
        response = send(browser, method, url)
        if endpoint in ANALYST_ALLOWED:
            assert response.status_code != 403, (endpoint, method, url)
        else:
            assert response.status_code == 403, (endpoint, method, url, response.status_code)


def test_the_manage_link_shows_only_to_those_who_may_use_the_area(site):
    link = 'href="/kelola"'
    assert link not in text(site.browser("klien.malut").get("/tugas"))
    for who in ("admin", site.user(("analyst", None)), site.user(("deployer", None)), site.user(("admin", "DKI"))):
        assert link in text(site.browser(who).get("/tugas")), who


def test_an_office_admin_manages_cases_and_users_but_not_offices_or_migrations(site):
    browser = site.browser(site.user(("admin", "MALUT")))
    assert browser.get("/kelola/kasus").status_code == 200
    assert browser.get("/kelola/pengguna").status_code == 200
    assert browser.get("/kelola/kantor").status_code == 403
    assert browser.get(f"/kelola/proses/{SOP000}/migrasi?dari=1&ke=1").status_code == 403
    assert browser.get(f"/kelola/proses/{SOP000}/peran").status_code == 403
    assert browser.get("/kelola/pengguna/baru").status_code == 403


def test_admin_pages_refuse_a_post_without_the_csrf_token(site, rules):
    browser = site.browser("admin")
    for endpoint, method, url in rules:
        if method == "POST":
            response = browser.post(url, {"reason": "x"}, csrf=False)
            assert response.status_code == 400, (endpoint, url)
