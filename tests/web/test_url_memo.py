"""The templates' url_for is remembered per process (webui._url_for_memo): it must give what Flask's url_for gives,
and never a link built for another host or path prefix."""

from __future__ import annotations

import re

from flask import url_for

from tests.web.helpers import text

_LINKS = re.compile(r'(?:href|action)="([^"]+)"')


def test_the_remembered_links_are_flask_s(site):
    memo = site.flask.jinja_env.globals["url_for"]
    cases = [("inbox.index", {}), ("static", {"filename": "alur.css"}), ("cases.show", {"instance_id": 7}),
             ("tasks.show", {"item_id": "a b/c"}), ("inbox.index", {"page": 2, "show": "mine"}),
             ("cases.start", {"key": "sop_001"})]
    for base in ("http://localhost/", "http://example.test/alur/"):
        with site.flask.test_request_context("/", base_url=base):
            for endpoint, values in cases * 2:  # the second time from the memo
                assert memo(endpoint, **values) == url_for(endpoint, **values)
            assert memo("inbox.index", _anchor="x") == url_for("inbox.index", _anchor="x")
            assert memo("inbox.index", _external=True) == url_for("inbox.index", _external=True)
    with site.flask.test_request_context("/tugas"):  # inside the inbox blueprint
        assert memo(".index") == url_for(".index") == "/tugas"
    with site.flask.test_request_context("/layanan"):  # inside the cases blueprint: another page
        assert memo(".show", instance_id=1) == url_for(".show", instance_id=1) == "/kasus/1"


def test_a_page_served_under_a_path_prefix_links_under_it(site):
    browser = site.browser("klien.malut")
    plain = set(_LINKS.findall(text(browser.get("/tugas"))))
    prefixed = set(_LINKS.findall(text(browser.get("/tugas", base_url="http://localhost/alur/"))))
    assert "/tugas" in plain and "/alur/tugas" in prefixed
    assert not [link for link in prefixed if link.startswith("/") and not link.startswith("/alur/")]
    assert set(_LINKS.findall(text(browser.get("/tugas")))) == plain  # and back, without the prefix
