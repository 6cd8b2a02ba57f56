"""The task page: what a holder of the step's role sees, who may not see it, and completing the step."""

from __future__ import annotations

import html
import re

import pytest

from tests.web.helpers import (
    SOP000,
    SOP001,
    SOP004,
    events,
    field_block,
    field_error,
    flashes,
    inbox_rows,
    is_error_page,
    location,
    text,
)

STEP_1 = "1. Klien mendatangi Front Office dan menemui Duta Pelayanan"
STEP_2 = "2. Menginventarisir jenis layanan per divisi"


def textarea(page: str, name: str) -> str:
    """What a textarea of the page holds, unescaped."""
    match = re.search(r"<textarea[^>]*>(.*?)</textarea>", field_block(page, name), re.DOTALL)
    assert match, f"{name} is not a textarea"
    return html.unescape(match.group(1))


@pytest.fixture
def case(site):
    """A fresh SOP 000 case (MALUT) whose first step waits for the Klien."""
    instance = site.start(SOP000, "klien.malut")
    return instance, site.only_ready(instance.id)


def test_the_task_page_shows_the_step_its_inputs_the_form_and_the_history(site, case):
    instance, item = case
    response = site.browser("klien.malut").get(f"/tugas/{item.id}")
    page = text(response)
    assert response.status_code == 200
    assert f"<h1>{STEP_1}</h1>" in page
    assert instance.number in page
    assert "<strong>Klien</strong>" in page  # the performer
    assert "5 minute" in page  # the standard time
    assert "Buku Tamu" in page  # the output
    kelengkapan = field_block(page, "kelengkapan")
    assert 'type="checkbox" name="kelengkapan" value="Kartu Tanda Penduduk"' in kelengkapan
    assert 'name="keluaran" type="file"' in field_block(page, "keluaran")
    assert '<textarea id="f-catatan" name="catatan"' in field_block(page, "catatan")
    assert 'enctype="multipart/form-data"' in page
    [started] = events(page, "instance_started")
    assert "klien.malut" in started
    assert f'data-xml-url="/kasus/{instance.id}/diagram.bpmn"' in page
    assert f'action="/tugas/{item.id}/ambil"' in page


def test_a_decision_step_offers_its_choices_as_radio_buttons(site):
    instance = site.start(SOP004, "masyarakat.bengkulu")
    item = site.walk_to(instance.id, "Langkah_4d", "BENGKULU")
    page = text(site.browser("kasubbid-pemajuan-ham.bengkulu").get(f"/tugas/{item.id}"))
    block = field_block(page, "keputusan")
    assert 'type="radio" name="keputusan" value="Ya"' in block
    assert 'type="radio" name="keputusan" value="Tidak"' in block
    assert "keluaran" not in page  # this step has no output document


def test_a_user_without_the_role_gets_403_on_the_task_page(site, case):
    _, item = case
    response = site.browser("duta-layanan.malut").get(f"/tugas/{item.id}")
    assert response.status_code == 403
    assert STEP_1 not in text(response)


def test_the_holder_of_the_same_role_in_another_office_gets_404_on_the_task_page(site, case):
    _, item = case
    elsewhere = site.user(("Klien", site.office()))
    response = site.browser(elsewhere).get(f"/tugas/{item.id}")
    assert response.status_code == 404  # as for an id that does not exist: ids of other offices are not revealed
    assert STEP_1 not in text(response)


def test_a_user_of_another_office_gets_403_and_learns_nothing_about_the_case(site, case):
    instance, item = case
    page = text(site.browser("pemohon.dki").get(f"/tugas/{item.id}"))
    assert instance.number not in page and "MALUT" not in page


@pytest.mark.parametrize("item_id", ["no-such-item", "00000000-0000-0000-0000-000000000000", "%27%20or%201=1--"])
def test_an_unknown_task_is_404(site, item_id):
    browser = site.browser("klien.malut")
    assert browser.get(f"/tugas/{item_id}").status_code == 404
    assert browser.post(f"/tugas/{item_id}", {"catatan": "x"}).status_code == 404


def test_an_admin_sees_the_task_page_with_a_reassign_form_but_no_completion_form(site, case):
    _, item = case
    other = site.user(("Klien", "MALUT"))
    response = site.browser("admin").get(f"/tugas/{item.id}")
    page = text(response)
    assert response.status_code == 200
    assert f'action="/tugas/{item.id}/alihkan"' in page
    assert f'<option value="{other}">' in page
    assert 'class="task-form"' not in page


def test_completing_a_step_redirects_to_the_case_and_the_next_step_reaches_the_next_lane(site, case):
    instance, item = case
    browser = site.browser("klien.malut")
    response = browser.upload(f"/tugas/{item.id}", {"kelengkapan": "Kartu Tanda Penduduk", "catatan": "Datang pagi"})
    assert response.status_code == 302
    assert location(response) == f"/kasus/{instance.id}"
    assert flashes(text(browser.get(location(response))), "success")
    done = site.item(item.id)
    assert (done.state, done.completed_by) == ("completed", "klien.malut")
    following = site.only_ready(instance.id)
    assert (following.step_id, following.role) == ("Langkah_2", "Duta Layanan")
    next_lane = text(site.browser("duta-layanan.malut").get("/tugas"))
    assert following.id in inbox_rows(next_lane)
    assert STEP_2 in next_lane
    assert item.id not in inbox_rows(text(browser.get("/tugas")))
    event = site.history(instance.id)[-1]
    assert event.type == "task_completed"
    assert event.data["data"] == {"kelengkapan": ["Kartu Tanda Penduduk"], "catatan": "Datang pagi"}


def test_an_empty_submission_completes_a_step_without_required_fields(site, case):
    instance, item = case
    assert site.browser("klien.malut").upload(f"/tugas/{item.id}", {}).status_code == 302
    assert site.item(item.id).state == "completed"


def test_fields_not_in_the_form_do_not_reach_the_case(site, case):
    instance, item = case
    site.browser("klien.malut").upload(f"/tugas/{item.id}", {"catatan": "ok", "is_admin": "true", "keputusan": "Ya"})
    assert set(site.history(instance.id)[-1].data["data"]) <= {"kelengkapan", "keluaran", "catatan"}
    assert site.history(instance.id)[-1].data["data"]["catatan"] == "ok"


def test_a_completed_step_shows_its_state_and_no_form(site, case):
    _, item = case
    site.complete(item.id, "klien.malut")
    page = text(site.browser("klien.malut").get(f"/tugas/{item.id}"))
    assert any("klien.malut" in m for m in flashes(page, "info"))  # who completed it
    assert 'class="task-form"' not in page
    assert "ambil" not in page


def test_completing_an_already_completed_step_is_409(site, case):
    instance, item = case
    browser = site.browser("klien.malut")
    assert browser.upload(f"/tugas/{item.id}", {"catatan": "pertama"}).status_code == 302
    response = browser.upload(f"/tugas/{item.id}", {"catatan": "kedua"})
    assert response.status_code == 409
    assert is_error_page(text(response))
    assert [e.data["data"].get("catatan") for e in site.history(instance.id) if e.type == "task_completed"] == \
        ["pertama"]


def test_a_step_claimed_by_someone_else_cannot_be_completed_by_another_holder(site, case):
    _, item = case
    colleague = site.user(("Klien", "MALUT"))
    site.claim(item.id, colleague)
    browser = site.browser("klien.malut")
    page = text(browser.get(f"/tugas/{item.id}"))
    assert any(colleague in m for m in flashes(page, "info"))
    assert 'class="task-form"' not in page
    assert browser.upload(f"/tugas/{item.id}", {"catatan": "saya"}).status_code == 403
    assert site.item(item.id).state == "ready"


def test_the_claimer_may_complete_a_claimed_step(site, case):
    _, item = case
    site.claim(item.id, "klien.malut")
    assert site.browser("klien.malut").upload(f"/tugas/{item.id}", {}).status_code == 302


@pytest.mark.parametrize(("who", "status"), [("duta-layanan.malut", 403), ("pemohon.dki", 404), ("admin", 403)])
def test_completing_without_the_role_in_the_office_is_refused(site, case, who, status):
    _, item = case
    assert site.browser(who).upload(f"/tugas/{item.id}", {"catatan": "x"}).status_code == status
    assert site.item(item.id).state == "ready"


DECISION_STEPS = [
    pytest.param(SOP004, "masyarakat.bengkulu", "BENGKULU", "Langkah_4d", "kasubbid-pemajuan-ham.bengkulu",
                 id="sop004-4d"),
    pytest.param(SOP001, "ka-kanwil.dki", "DKI", "Langkah_6", "kasubbag-program-dan-pelaporan.dki",
                 id="sop001-6"),
]


@pytest.mark.parametrize(("key", "starter", "office", "step_id", "holder"), DECISION_STEPS)
def test_a_decision_step_without_a_decision_is_400_with_the_error_at_the_field_and_the_notes_kept(
        site, key, starter, office, step_id, holder):
    instance = site.start(key, starter, office=office)
    item = site.walk_to(instance.id, step_id, office)
    notes = 'Sudah ditelaah <b>"lengkap"</b>'
    response = site.browser(holder).upload(f"/tugas/{item.id}", {"catatan": notes, "kelengkapan": "Draft SP/MP"})
    page = text(response)
    assert response.status_code == 400
    assert 'class="field invalid" data-field="keputusan"' in page
    assert field_error(page, "keputusan")
    assert field_error(page, "catatan") is None
    assert textarea(page, "catatan") == notes
    assert "<b>" not in field_block(page, "catatan")
    assert flashes(page, "error")
    assert site.item(item.id).state == "ready"


@pytest.mark.parametrize(("key", "starter", "office", "step_id", "holder"), DECISION_STEPS)
def test_a_decision_step_with_a_decision_moves_on(site, key, starter, office, step_id, holder):
    instance = site.start(key, starter, office=office)
    item = site.walk_to(instance.id, step_id, office)
    response = site.browser(holder).upload(f"/tugas/{item.id}", {"keputusan": "Ya"})
    assert response.status_code == 302
    assert site.item(item.id).state == "completed"
    assert site.only_ready(instance.id).step_id != step_id
    assert site.history(instance.id)[-1].data["data"]["keputusan"] == "Ya"


def test_a_decision_outside_the_choices_is_400_and_lists_the_choices(site):
    instance = site.start(SOP004, "masyarakat.bengkulu")
    item = site.walk_to(instance.id, "Langkah_4d", "BENGKULU")
    response = site.browser("kasubbid-pemajuan-ham.bengkulu").upload(f"/tugas/{item.id}", {"keputusan": "Mungkin"})
    assert response.status_code == 400
    message = field_error(text(response), "keputusan")
    assert "Ya" in message and "Tidak" in message  # the choices
    assert site.item(item.id).state == "ready"


@pytest.mark.parametrize(("choice", "next_step"), [("Ya", "Langkah_5"), ("Tidak", "Langkah_6")])
def test_the_decision_chooses_the_path(site, choice, next_step):
    instance = site.start(SOP004, "masyarakat.bengkulu")
    item = site.walk_to(instance.id, "Langkah_4d", "BENGKULU")
    assert site.browser("kasubbid-pemajuan-ham.bengkulu").upload(f"/tugas/{item.id}", {"keputusan": choice}) \
        .status_code == 302
    assert site.only_ready(instance.id).step_id == next_step


def test_notes_longer_than_the_limit_are_refused_with_a_message(site, case):
    _, item = case
    response = site.browser("klien.malut").upload(f"/tugas/{item.id}", {"catatan": "x" * 4001})
    assert response.status_code == 400
    assert "4000" in field_error(text(response), "catatan")
    assert site.item(item.id).state == "ready"


def test_a_kelengkapan_item_that_is_not_on_the_list_is_refused(site, case):
    _, item = case
    response = site.browser("klien.malut").upload(f"/tugas/{item.id}", {"kelengkapan": "Paspor"})
    assert response.status_code == 400
    assert field_error(text(response), "kelengkapan") is not None
    assert site.item(item.id).state == "ready"


def test_completing_the_last_step_says_the_case_is_complete(site, case):
    instance, _ = case
    last = site.walk_to(instance.id, "Langkah_6", "MALUT")
    browser = site.browser("klien.malut")
    response = browser.upload(f"/tugas/{last.id}", {})
    assert location(response) == f"/kasus/{instance.id}"
    assert len(flashes(text(browser.get(location(response))), "success")) == 2  # step done, case complete
    assert site.instance(instance.id).status == "completed"


def test_a_step_the_process_cannot_continue_from_comes_back_with_everything_typed_and_the_reason(site):
    """A broken gateway condition after the step (1 / 0): nothing is saved, and nothing the official chose is lost."""
    from engine import services
    from tests.conftest import fixture_file

    office = site.office()
    writer, reviewer = site.user(("Pelaksana", office)), site.user(("Kasubbag", office))
    services.deploy(site.alur.uow(), [fixture_file("failing_condition.bpmn")], office=office)
    instance = site.start("broken_gate", writer, office=office)
    site.complete(site.only_ready(instance.id).id, writer)
    item = site.only_ready(instance.id)
    response = site.browser(reviewer).post(f"/tugas/{item.id}", {"keputusan": "Ya"})
    page = text(response)
    assert response.status_code == 422, page
    [message] = flashes(page, "error")
    assert message.startswith("The process could not continue with these entries; nothing was saved.")
    assert re.search(r'value="Ya"[^>]*(checked|selected)', field_block(page, "keputusan"))
    assert site.item(item.id).state == "ready"
    assert "task_completed" not in [e.type for e in site.history(instance.id)][2:]
