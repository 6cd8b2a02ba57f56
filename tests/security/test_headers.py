"""Every response carries the security headers: a CSP that allows scripts only from the site and no framing,
nosniff, a referrer policy and X-Frame-Options. The walk is generated from the URL map, so a new page cannot
escape it; error responses (400, 403, 404, 405, 413, 429, 500, JSON errors) are checked too."""

from __future__ import annotations

import io

import pytest

from engine import casefile
from tests.web.helpers import SOP000, text

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
# Query strings that make a page show what it is for (without them some answer 400, which is checked as well).
QUERIES = {"admin.diff": "?dari=1&ke=1", "admin.migration_plan": "?dari=1&ke=1"}
# The pages that answer a logged-in user otherwise: to the inbox, and a migration plan needs two versions.
NOT_200 = {"auth.login": 302, "inbox.home": 302, "admin.migration_plan": 400}


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        if name:
            assert name.lower() not in directives, f"{name} given twice"
            directives[name.lower()] = values
    return directives


def check_headers(response, where) -> None:
    csp = policy(response)
    default = csp.get("default-src")
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert default in (["'self'"], ["'none'"]), where  # 'none': a download the browser may not run at all
    # Scripts from the site only: no inline, no eval, no other hosts.
    assert csp.get("script-src", default) in (["'self'"], ["'none'"]), (where, csp.get("script-src"))
    assert csp.get("object-src", default) == ["'none'"], where
    if default == ["'self'"]:  # a page: the rest of the policy of pages
        assert csp.get("script-src") == ["'self'"], where
        assert csp.get("base-uri") in (["'none'"], ["'self'"]), where
        assert csp.get("form-action") == ["'self'"], where
    else:
        assert "sandbox" in csp, where
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"], where
    assert all("*" not in v and "http:" not in v and "https:" not in v for vs in csp.values() for v in vs), where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") in REFERRER_POLICIES, where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    if response.mimetype == "text/html":
        assert "charset=utf-8" in response.headers.get("Content-Type", "").lower(), where


@pytest.fixture(scope="module")
def everything(site):
    """A user who may open every page, and one real thing for every placeholder of the URL map."""
    username = site.user(("admin", None), ("analyst", None), ("deployer", None), ("Klien", "MALUT"), prefix="super")
    browser = site.browser(username)
    done = site.start(SOP000, "klien.malut")
    first = site.only_ready(done.id)
    upload = site.browser("klien.malut").upload(f"/tugas/{first.id}", {"keluaran": (io.BytesIO(PDF), "tamu.pdf")})
    assert upload.status_code == 302
    [attachment] = site.attachments(done.id)
    case = site.start(SOP000, "klien.malut")
    created = browser.post("/rancangan/baru", {"name": "Rancangan Uji"})
    assert created.status_code == 302
    values = {"instance_id": case.id, "item_id": site.only_ready(case.id).id, "attachment_id": attachment.id,
              "key": SOP000, "version": 1, "code": "MALUT", "username": "klien.malut",
              "draft_id": int(created.headers["Location"].rsplit("/", 1)[1]), "filename": "alur.css",
              "package": "bpmn-js"}
    return browser, values


def get_urls(site, values) -> list[tuple[str, str]]:
    found = []
    for rule in site.flask.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        args = {name: values[name] for name in rule.arguments}
        if rule.endpoint == "vendor.asset":
            args["filename"] = "dist/bpmn-navigated-viewer.production.min.js"
        url = rule.build(args, append_unknown=False)[1] + QUERIES.get(rule.endpoint, "")
        found.append((rule.endpoint, url))
    return sorted(found)


def test_every_page_sends_the_security_headers(site, everything):
    browser, values = everything
    urls = get_urls(site, values)
    assert len(urls) >= 29, "the URL map lost pages"
    statuses = {}
    for endpoint, url in urls:
        response = browser.get(url)
        check_headers(response, (endpoint, url, response.status_code))
        statuses[endpoint] = response.status_code
        response.close()
    # The walk opened the pages themselves, not error pages in their place.
    assert {e: s for e, s in statuses.items() if s != 200} == NOT_200


def test_every_page_sends_the_security_headers_to_an_anonymous_visitor(site, everything):
    _, values = everything
    anonymous = site.browser()
    for endpoint, url in get_urls(site, values):
        response = anonymous.get(url)
        check_headers(response, (endpoint, url, response.status_code))
        response.close()


def error_responses(site, monkeypatch):
    """(what, response) for every kind of error the site answers."""
    user = site.browser("klien.malut")
    admin = site.browser("admin")
    case = site.start(SOP000, "klien.malut")
    yield "404", site.browser().get("/tidak-ada"), 404
    yield "404 logged in", user.get("/kasus/2147483647"), 404
    yield "405", user.get("/keluar"), 405
    yield "400 csrf", user.post("/akun", {"email_notifications": "on"}, csrf=False), 400
    yield "400 nul", user.get("/tugas?q=%00"), 400
    yield "403", user.get("/kelola"), 403
    big = {"keluaran": (io.BytesIO(PDF + b"0" * (3 * 1024 * 1024)), "besar.pdf")}
    yield "413", user.upload(f"/tugas/{site.only_ready(case.id).id}", big), 413
    yield "401 login", site.browser().login("klien.malut", "not-the-password"), 401
    yield "json 404", admin.client.post("/rancangan/2147483647/simpan", json={"xml": "<x/>", "row_version": 1},
                                        headers={"X-CSRFToken": admin.fresh_token()}), 404
    yield "json 400 csrf", admin.client.post("/rancangan/1/simpan", json={}), 400
    monkeypatch.setitem(site.flask.config, "LOGIN_MAX_FAILURES", 1)
    blocked = site.user(("Klien", "MALUT"))
    site.browser().login(blocked, "not-the-password")
    yield "429", site.browser().login(blocked, "not-the-password"), 429
    monkeypatch.setattr(casefile, "case_view", lambda *a, **k: 1 / 0)
    yield "500", user.get(f"/kasus/{case.id}"), 500


def test_every_error_response_sends_the_security_headers(site, monkeypatch):
    seen = []
    for what, response, status in error_responses(site, monkeypatch):
        assert response.status_code == status, (what, response.status_code, text(response)[:300])
        check_headers(response, what)
        seen.append(what)
    assert len(seen) == 12


def test_https_responses_ask_for_https_from_then_on_and_plain_http_ones_do_not(site):
    browser = site.browser()
    secure = browser.client.get("/masuk", base_url="https://localhost")
    assert "max-age=" in secure.headers.get("Strict-Transport-Security", "")
    assert int(secure.headers["Strict-Transport-Security"].split("max-age=")[1].split(";")[0]) >= 180 * 86400
    check_headers(secure, "https")
    assert "Strict-Transport-Security" not in browser.get("/masuk").headers


def test_pages_with_case_data_are_not_kept_in_shared_caches(site, everything):
    browser, values = everything
    for url in (f"/kasus/{values['instance_id']}", "/tugas", f"/lampiran/{values['attachment_id']}", "/akun",
                "/kelola/pengguna", "/rancangan"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response.headers.get("Cache-Control", ""), url
        response.close()
    diagram = browser.get(f"/kasus/{values['instance_id']}/diagram.bpmn")  # the SOP's drawing, no citizen data
    assert "private" in diagram.headers["Cache-Control"] or "no-store" in diagram.headers["Cache-Control"]
    for url in ("/static/alur.css", "/vendor/bpmn-js/dist/bpmn-navigated-viewer.production.min.js"):
        response = browser.get(url)
        assert "no-store" not in response.headers.get("Cache-Control", ""), "the site's own files may be cached"
        response.close()
