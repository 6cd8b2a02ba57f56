"""The modeler's pages and JSON endpoints: who may open, save, validate and deploy drafts, and what they answer."""

from __future__ import annotations

import re

import pytest

from engine import drafts
from tests.web.helpers import SOP003, text, unique

HOSTILE = """<?xml version="1.0"?>
<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="jahat" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>
</bpmn:definitions>
"""


def post_json(browser, url, body, *, csrf=True):
    headers = {"X-CSRFToken": browser.token or browser.fresh_token()} if csrf else {}
    return browser.client.post(url, json=body, headers=headers)


def new_draft(browser, name=None) -> int:
    response = browser.post("/rancangan/baru", {"name": name or unique("Layanan Uji ")})
    assert response.status_code == 302, text(response)
    match = re.fullmatch(r"/rancangan/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def content(browser, draft_id) -> dict:
    response = browser.get(f"/rancangan/{draft_id}/isi")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def latest_version(site, key):
    with site.alur.uow(write=False) as uow:
        latest = uow.deployments.latest(key)
    return latest.version if latest else None


def test_a_lane_user_is_refused_every_modeler_address(site):
    analyst = site.browser("analis")
    draft_id = new_draft(analyst)
    lane_user = site.browser(site.user(("Kakanwil", "BABEL")))
    for url in ("/rancangan", f"/rancangan/{draft_id}", f"/rancangan/{draft_id}/isi"):
        assert lane_user.get(url).status_code == 403, url
    assert lane_user.post("/rancangan/baru", {"name": "Coba"}).status_code == 403
    assert lane_user.post("/rancangan/salin", {"source": f"{SOP003}:1"}).status_code == 403
    response = post_json(lane_user, f"/rancangan/{draft_id}/simpan", {"xml": "<x/>", "row_version": 1})
    assert response.status_code == 403 and response.get_json()["error"] == "not_permitted"
    assert post_json(lane_user, f"/rancangan/{draft_id}/periksa", {}).status_code == 403
    assert post_json(lane_user, f"/rancangan/{draft_id}/terapkan", {"note": "x"}).status_code == 403
    assert content(analyst, draft_id)["row_version"] == 1


def test_an_analyst_opens_a_deployed_version_saves_and_validates_it_but_cannot_deploy(site):
    analyst = site.browser("analis")
    page = text(analyst.get("/rancangan"))
    assert f'value="{SOP003}:1"' in page and 'action="/rancangan/baru"' in page
    response = analyst.post("/rancangan/salin", {"source": f"{SOP003}:1"})
    draft_id = int(response.headers["Location"].rsplit("/", 1)[1])

    editor = text(analyst.get(f"/rancangan/{draft_id}"))
    assert f'data-save-url="/rancangan/{draft_id}/simpan"' in editor
    assert "bpmn-modeler.production.min.js" in editor and "modeler.js" in editor
    assert 'data-action="deploy"' not in editor  # an analyst does not see Deploy
    assert "<script>" not in editor  # no inline script: the CSP allows scripts from the site only

    draft = content(analyst, draft_id)
    assert draft["key"] == SOP003 and draft["row_version"] == 1
    changed = draft["xml"].replace('name="1. Menyampaikan laporan pengaduan"', 'name="1. Laporan diterima"')
    response = post_json(analyst, f"/rancangan/{draft_id}/simpan", {"xml": changed, "row_version": 1})
    assert response.status_code == 200 and response.get_json() == {"row_version": 2, "key": SOP003}

    report = post_json(analyst, f"/rancangan/{draft_id}/periksa", {}).get_json()
    assert report["ok"] and report["errors"] == 0
    assert report["processes"][0]["key"] == SOP003 and report["processes"][0]["steps"] == 14

    refused = post_json(analyst, f"/rancangan/{draft_id}/terapkan", {"note": "Ganti nama", "row_version": 2})
    assert refused.status_code == 403 and refused.get_json()["error"] == "not_permitted"
    assert latest_version(site, SOP003) == 1


def test_a_stale_save_gets_409_and_the_stored_draft_is_unchanged(site):
    first, second = site.browser("analis"), site.browser("penerap")
    draft_id = new_draft(first)
    xml = content(first, draft_id)["xml"]
    mine = xml.replace("1. Memeriksa permohonan", "1. Versi penerap")
    assert post_json(second, f"/rancangan/{draft_id}/simpan", {"xml": mine, "row_version": 1}).status_code == 200
    theirs = xml.replace("1. Memeriksa permohonan", "1. Versi analis")
    response = post_json(first, f"/rancangan/{draft_id}/simpan", {"xml": theirs, "row_version": 1})
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "stale_instance" and "penerap saved this draft" in body["detail"]
    stored = content(first, draft_id)
    assert (stored["xml"], stored["row_version"]) == (mine, 2)


def test_a_hostile_draft_is_reported_by_lint_and_never_deployed(site):
    deployer = site.browser("penerap")
    draft_id = new_draft(deployer)
    assert post_json(deployer, f"/rancangan/{draft_id}/simpan", {"xml": HOSTILE, "row_version": 1}).status_code == 200
    for body in ({}, {"xml": HOSTILE}):
        report = post_json(deployer, f"/rancangan/{draft_id}/periksa", body).get_json()
        assert not report["ok"]
        assert [(p["severity"], p["line"], p["message"]) for p in report["problems"]] == [
            ("error", 2, "DOCTYPE and entity declarations are not allowed in a diagram")]
    response = post_json(deployer, f"/rancangan/{draft_id}/terapkan", {"note": "coba", "row_version": 2})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "diagram_invalid" and body["problems"][0]["line"] == 2
    assert latest_version(site, "jahat") is None


def test_a_deployer_deploys_a_new_sop_with_a_change_note(site):
    deployer = site.browser("penerap")
    name = unique("Izin Uji ")
    draft_id = new_draft(deployer, name)
    editor = text(deployer.get(f"/rancangan/{draft_id}"))
    assert 'data-action="deploy"' in editor and 'id="deploy-note"' in editor
    key = content(deployer, draft_id)["key"]

    missing = post_json(deployer, f"/rancangan/{draft_id}/terapkan", {"note": "  ", "row_version": 1})
    assert missing.status_code == 400 and missing.get_json()["fields"] == ["note"]
    stale = post_json(deployer, f"/rancangan/{draft_id}/terapkan", {"note": "Pertama", "row_version": 5})
    assert stale.status_code == 409
    assert latest_version(site, key) is None

    response = post_json(deployer, f"/rancangan/{draft_id}/terapkan", {"note": "Pertama", "row_version": 1})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["key"], body["version"], body["created"]) == (key, 1, True)
    assert "version 1" in body["message"] and body["report"]["ok"]
    assert latest_version(site, key) == 1
    listing = text(deployer.get("/rancangan"))
    row = re.search(rf'<tr data-draft="{draft_id}">(.*?)</tr>', listing, re.DOTALL).group(1)
    assert name in row and "Version 1" in row


def test_json_endpoints_need_the_csrf_token_and_well_formed_bodies(site):
    analyst = site.browser("analis")
    draft_id = new_draft(analyst)
    assert post_json(analyst, f"/rancangan/{draft_id}/simpan", {"xml": "<x/>", "row_version": 1},
                     csrf=False).status_code == 400
    for body in ([1, 2], {"xml": 5, "row_version": 1}, {"xml": "<x/>", "row_version": "1"}, {"xml": "<x/>"}):
        response = post_json(analyst, f"/rancangan/{draft_id}/simpan", body)
        assert response.status_code == 400 and response.get_json()["error"] == "alur_error", body
    assert post_json(analyst, "/rancangan/999999/simpan", {"xml": "<x/>", "row_version": 1}).status_code == 404
    assert content(analyst, draft_id)["row_version"] == 1


def test_a_draft_larger_than_the_limit_is_refused(site):
    analyst = site.browser("analis")
    draft_id = new_draft(analyst)
    big = "<a>" + " " * drafts.MAX_BYTES + "</a>"
    response = post_json(analyst, f"/rancangan/{draft_id}/simpan", {"xml": big, "row_version": 1})
    assert response.status_code in (400, 413)  # the upload limit of the site may come first
    assert content(analyst, draft_id)["row_version"] == 1


def test_a_draft_can_be_deleted_from_the_list(site):
    analyst = site.browser("analis")
    draft_id = new_draft(analyst)
    assert analyst.post(f"/rancangan/{draft_id}/hapus").status_code == 302
    assert analyst.get(f"/rancangan/{draft_id}").status_code == 404


@pytest.mark.parametrize("path, status", [
    ("bpmn-js/dist/bpmn-modeler.production.min.js", 200),
    ("bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css", 200),
    ("bpmn-js/dist/bpmn-modeler.development.js", 404),
    ("bpmn-js/package.json", 404),
])
def test_the_modeler_bundle_and_its_styles_are_served_and_nothing_else(site, path, status):
    if not site.flask.config["NODE_MODULES"] or status == 200 and not _installed(site):
        pytest.skip("bpmn-js is not installed (npm install)")
    assert site.browser().get(f"/vendor/{path}").status_code == status


def _installed(site) -> bool:
    from webui import vendor

    return vendor.installed(site.flask)
