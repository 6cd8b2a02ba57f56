"""Output documents: uploading with a step, the link in the history, downloading, and refused uploads."""

from __future__ import annotations

import io
import re

import pytest

from engine import runtime
from engine.errors import EngineError
from tests.web.helpers import SOP000, field_block, field_error, flashes, is_error_page, location, text

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def case(site):
    """A fresh SOP 000 case (MALUT) whose first step (output: Buku Tamu) waits for the Klien."""
    instance = site.start(SOP000, "klien.malut")
    return instance, site.only_ready(instance.id)


def upload(site, item, content, filename, user="klien.malut", **fields):
    data = {"keluaran": (io.BytesIO(content), filename), **fields}
    return site.browser(user).upload(f"/tugas/{item.id}", data)


def uploaded(site, case, filename="buku-tamu.pdf"):
    instance, item = case
    assert upload(site, item, PDF, filename).status_code == 302
    [attachment] = site.attachments(instance.id)
    return attachment


def test_an_uploaded_output_is_stored_with_the_step(site, case):
    instance, item = case
    response = upload(site, item, PDF, "buku-tamu.pdf", catatan="terlampir")
    assert response.status_code == 302
    assert location(response) == f"/kasus/{instance.id}"
    [attachment] = site.attachments(instance.id)
    assert (attachment.filename, attachment.content_type, attachment.size, attachment.field) == \
        ("buku-tamu.pdf", "application/pdf", len(PDF), "keluaran")
    assert (attachment.work_item_id, attachment.uploaded_by) == (item.id, "klien.malut")
    entered = site.history(instance.id)[-1].data["data"]["keluaran"]
    assert entered["attachment"] == attachment.id and entered["filename"] == "buku-tamu.pdf"


def test_the_upload_appears_in_the_case_history_as_a_link(site, case):
    attachment = uploaded(site, case)
    page = text(site.browser("duta-layanan.malut").get(f"/kasus/{case[0].id}"))
    assert f'<a href="/lampiran/{attachment.id}">buku-tamu.pdf</a>' in page


def test_the_upload_can_be_downloaded_as_an_attachment(site, case):
    attachment = uploaded(site, case)
    response = site.browser("duta-layanan.malut").get(f"/lampiran/{attachment.id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "buku-tamu.pdf" in disposition


def test_a_file_name_with_path_parts_is_stored_without_them(site, case):
    instance, item = case
    assert upload(site, item, PDF, "../../etc/laporan akhir.pdf").status_code == 302
    [attachment] = site.attachments(instance.id)
    assert attachment.filename == "laporan akhir.pdf"
    response = site.browser("klien.malut").get(f"/lampiran/{attachment.id}")
    assert response.data == PDF


def test_a_user_who_may_not_see_the_case_is_refused_the_download(site, case):
    attachment = uploaded(site, case)
    outsiders = [(site.user(("Pemohon", "MALUT")), 403)]  # another office: as for an attachment that does not exist
    outsiders += [("pemohon.dki", 404), (site.user(("Klien", site.office())), 404), (site.user(), 404)]
    for outsider, status in outsiders:
        response = site.browser(outsider).get(f"/lampiran/{attachment.id}")
        assert response.status_code == status
        assert PDF not in response.data


def test_an_admin_may_download_any_attachment(site, case):
    attachment = uploaded(site, case)
    assert site.browser("admin").get(f"/lampiran/{attachment.id}").data == PDF


@pytest.mark.parametrize("attachment_id", ["3f6d2c1e-8a4b-4c2d-9e7f-0a1b2c3d4e5f", "not-an-id", "..%2F..%2Fsecret_key"])
def test_an_unknown_attachment_is_404(site, attachment_id):
    assert site.browser("klien.malut").get(f"/lampiran/{attachment_id}").status_code == 404


def test_an_attachment_whose_file_is_gone_is_404_not_500(site, case):
    attachment = uploaded(site, case)
    for path in site.stored_files():
        if path.name == attachment.id:
            path.unlink()
    assert site.browser("klien.malut").get(f"/lampiran/{attachment.id}").status_code == 404


TYPE, MISMATCH, EMPTY = "type", "mismatch", "empty"
REFUSED = [
    pytest.param(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "x.exe", TYPE, id="exe"),
    pytest.param(b"<!doctype html><html><script>alert(1)</script></html>", "x.html", TYPE, id="html"),
    pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "gambar.svg", TYPE, id="svg"),
    pytest.param(PDF, "x.exe", MISMATCH, id="pdf-named-exe"),
    pytest.param(b"<html><body>hi</body></html>", "laporan.pdf", MISMATCH, id="html-named-pdf"),
    pytest.param(b"", "kosong.pdf", EMPTY, id="empty"),
]


@pytest.mark.parametrize(("content", "filename", "problem"), REFUSED)
def test_a_disallowed_file_is_400_with_the_message_at_the_field_and_nothing_stored(site, case, content, filename,
                                                                                   problem):
    instance, item = case
    before = site.stored_files()
    response = upload(site, item, content, filename, catatan="lihat lampiran")
    page = text(response)
    assert response.status_code == 400
    assert 'class="field invalid" data-field="keluaran"' in page
    message = field_error(page, "keluaran")
    assert message
    if problem == TYPE:
        assert "PDF" in message  # names what is accepted
    assert "lihat lampiran" in field_block(page, "catatan")
    assert site.item(item.id).state == "ready"
    assert site.attachments(instance.id) == []
    assert site.stored_files() == before


def test_an_upload_over_the_size_limit_is_400_with_a_clear_message(site, case):
    instance, item = case
    before = site.stored_files()
    response = upload(site, item, PDF + b"0" * (1024 * 1024 + 10), "besar.pdf")  # 1 MB limit, under the body limit
    assert response.status_code == 400
    assert "1 MB" in field_error(text(response), "keluaran")
    assert site.item(item.id).state == "ready"
    assert site.attachments(instance.id) == []
    assert site.stored_files() == before


def test_a_request_far_over_the_size_limit_is_413_with_a_clear_message_never_500(site, case):
    instance, item = case
    before = site.stored_files()
    response = upload(site, item, PDF + b"0" * (3 * 1024 * 1024), "sangat-besar.pdf")
    assert response.status_code == 413
    page = text(response)
    assert is_error_page(page)
    assert "1 MB" in page
    assert "Traceback" not in page
    assert site.item(item.id).state == "ready"
    assert site.stored_files() == before


def test_the_file_input_accepts_only_the_allowed_extensions(site, case):
    _, item = case
    page = text(site.browser("klien.malut").get(f"/tugas/{item.id}"))
    accept = re.search(r'name="keluaran" type="file" accept="([^"]+)"', page).group(1).split(",")
    assert ".pdf" in accept and ".exe" not in accept and ".html" not in accept


def test_a_valid_file_sent_with_an_invalid_field_is_not_stored(site, case):
    instance, item = case
    before = site.stored_files()
    response = upload(site, item, PDF, "buku-tamu.pdf", catatan="x" * 5000)
    page = text(response)
    assert response.status_code == 400
    assert "buku-tamu.pdf" in field_block(page, "keluaran")  # asks to choose the file again
    assert site.attachments(instance.id) == []
    assert site.stored_files() == before


def test_when_the_engine_refuses_the_step_the_uploaded_file_is_not_kept(site, case, monkeypatch):
    instance, item = case
    before = site.stored_files()

    def refuse(*args, **kwargs):
        raise EngineError("no gateway condition matched")

    monkeypatch.setattr(runtime, "complete", refuse)
    response = upload(site, item, PDF, "buku-tamu.pdf")
    page = text(response)
    assert response.status_code == 422
    assert not is_error_page(page) and 'data-field="keluaran"' in page  # the step's form again, with the reason
    assert flashes(page, "error")[0].startswith("The process could not continue with these entries")
    assert site.attachments(instance.id) == []
    assert site.stored_files() == before
    assert site.item(item.id).state == "ready"
