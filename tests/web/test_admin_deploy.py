"""The deploy page: check uploaded diagrams, read a precise report, then deploy them with a change note."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED
from tests.web.helpers import SOP000, SOP003, field_error, flashes, location, text

MIWG = SHARED / "interop" / "miwg"
STEP_2_OLD = b'name="2. Menginventarisir jenis layanan per divisi"'
STEP_2_NEW = b'name="2. Mencatat jenis layanan per divisi"'
TIMER_2 = b'<bpmn:timerEventDefinition id="TimerEventDefinition_Langkah_2">\n        <bpmn:timeDuration ' \
          b'xsi:type="bpmn:tFormalExpression">PT5M'
SCRIPT_TASK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="x">
  <bpmn:process id="bad_process" isExecutable="true">
    <bpmn:startEvent id="Mulai"/>
    <bpmn:scriptTask id="Skrip_1" name="Run code"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>
  </bpmn:process>
</bpmn:definitions>
"""


def seed_file(key: str) -> bytes:
    return (ROOT / "bpmn" / f"{key}.bpmn").read_bytes()


def changed(key: str, marker: str) -> bytes:
    """A seed SOP with one step renamed and its standard time doubled; `marker` makes the bytes unique."""
    data = seed_file(key)
    if key == SOP000:
        data = data.replace(STEP_2_OLD, STEP_2_NEW).replace(TIMER_2, TIMER_2.replace(b"PT5M", b"PT10M"))
    return data.replace(b"</bpmn:definitions>", f"<!-- {marker} --></bpmn:definitions>".encode())


def upload(browser, *files):
    return browser.upload("/kelola/unggah", {"files": [(io.BytesIO(data), name) for name, data in files]})


def token_of(page: str) -> str | None:
    match = re.search(r'<input type="hidden" name="token" value="([^"]+)">', page)
    return match.group(1) if match else None


def problem_rows(page: str) -> list[list[str]]:
    """The lint report's rows: severity, file, line, element, message (tags stripped, unescaped)."""
    rows = re.findall(r'<tr class="problem [a-z]+">(.*?)</tr>', page, re.DOTALL)
    cells = [re.findall(r"<td>(.*?)</td>", row, re.DOTALL) for row in rows]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in row] for row in cells]


def staged(site) -> list[Path]:
    folder = Path(site.alur.data_dir) / "deploy-staging"
    return [p for p in folder.iterdir() if p.is_dir()] if folder.exists() else []


@pytest.fixture(scope="module")
def deployer(site):
    return site.user(("deployer", None), prefix="penerap")


def test_a_deployer_checks_a_changed_sop_then_deploys_it_as_version_2_with_a_note(site, deployer):
    browser = site.browser(deployer)
    assert browser.get("/kelola/unggah").status_code == 200
    response = upload(browser, ("sop_000.bpmn", changed(SOP000, "happy")))
    page = text(response)
    assert response.status_code == 200, problem_rows(page)
    assert "No errors" in page
    assert re.search(rf'<tr data-key="{SOP000}">.*?version 2', page, re.DOTALL)
    token = token_of(page)
    assert token and len(staged(site)) >= 1
    response = browser.post("/kelola/unggah/terapkan", {"token": token, "note": "Langkah 2 diperjelas (rapat 3 Mei)"})
    assert response.status_code == 302
    assert location(response) == f"/kelola/proses/{SOP000}"
    page = text(browser.get(location(response)))
    assert "deployed as version 2" in " ".join(flashes(page, "success"))
    row = re.search(r'<tr data-version="2" class="[^"]*current[^"]*">(.*?)</tr>', page, re.DOTALL)
    assert row, "version 2 is the one new cases use"
    assert "Langkah 2 diperjelas (rapat 3 Mei)" in row.group(1) and deployer in row.group(1)
    assert token not in {p.name for p in staged(site)}, "the staged files are removed after the deploy"
    assert site.start(SOP000, "klien.malut").version == 2


def test_the_same_staged_files_cannot_be_deployed_twice(site, deployer):
    browser = site.browser(deployer)
    token = token_of(text(upload(browser, ("sop_003.bpmn", changed(SOP003, "twice")))))
    assert browser.post("/kelola/unggah/terapkan", {"token": token, "note": "first"}).status_code == 302
    response = browser.post("/kelola/unggah/terapkan", {"token": token, "note": "again"})
    assert location(response) == "/kelola/unggah"
    assert "no longer on the server" in " ".join(flashes(text(browser.get("/kelola/unggah")), "error"))


def test_a_missing_note_is_asked_for_at_its_field_and_the_files_stay_on_the_server(site, deployer):
    browser = site.browser(deployer)
    token = token_of(text(upload(browser, ("sop_003.bpmn", changed(SOP003, "no-note")))))
    response = browser.post("/kelola/unggah/terapkan", {"token": token, "note": "  "})
    page = text(response)
    assert response.status_code == 400
    assert "note" in field_error(page, "note").lower()
    assert token_of(page) == token, "the user does not select the files again"
    assert browser.post("/kelola/unggah/terapkan", {"token": token, "note": "now with a note"}).status_code == 302


def test_an_analyst_may_check_files_but_not_deploy_them(site):
    analyst = site.user(("analyst", None), prefix="analis")
    browser = site.browser(analyst)
    page = text(upload(browser, ("sop_003.bpmn", changed(SOP003, "analyst"))))
    assert "No errors" in page
    assert token_of(page) is None and "/kelola/unggah/terapkan" not in page
    assert "Only a deployer" in page
    forged = site.browser(analyst).post("/kelola/unggah/terapkan", {"token": "x" * 22, "note": "n"})
    assert forged.status_code == 403


def test_a_token_of_another_user_or_a_changed_staged_file_deploys_nothing(site, deployer):
    token = token_of(text(upload(site.browser(deployer), ("sop_003.bpmn", changed(SOP003, "foreign")))))
    other = site.browser(site.user(("deployer", None)))
    response = other.post("/kelola/unggah/terapkan", {"token": token, "note": "not mine"})
    assert location(response) == "/kelola/unggah"
    folder = next(p for p in staged(site) if p.name == token)
    (folder / "0.bpmn").write_bytes(seed_file(SOP003).replace(b"Pengaduan", b"Pengaduan!"))
    response = site.browser(deployer).post("/kelola/unggah/terapkan", {"token": token, "note": "tampered"})
    assert location(response) == "/kelola/unggah", "bytes that no longer match their sha256 are refused"
    for path_token in ("../../etc", "", "a/b"):
        response = site.browser(deployer).post("/kelola/unggah/terapkan", {"token": path_token, "note": "n"})
        assert location(response) == "/kelola/unggah"


def test_several_files_are_checked_together(site, deployer):
    page = text(upload(site.browser(deployer), ("a.bpmn", changed(SOP000, "several")),
                       ("b.bpmn", changed(SOP003, "several"))))
    assert f'<tr data-key="{SOP000}">' in page and f'<tr data-key="{SOP003}">' in page
    assert "a.bpmn, b.bpmn" in page


def test_each_problem_is_reported_with_its_file_line_element_and_severity_and_blocks_the_deploy(site, deployer):
    response = upload(site.browser(deployer), ("skrip.bpmn", SCRIPT_TASK))
    page = text(response)
    assert response.status_code == 422
    rows = problem_rows(page)
    assert rows[0][:4] == ["Error", "skrip.bpmn", "5", "Skrip_1"], rows
    assert "script tasks run code" in rows[0][4]
    assert token_of(page) is None and "/kelola/unggah/terapkan" not in page


@pytest.mark.parametrize("editor", ["Reference", "SAP Signavio Process Manager 19.9.0",
                                    "bpmn.io (Camunda Modeler) 18.6.1"])
def test_files_saved_by_other_editors_get_a_precise_report_and_never_a_500(site, deployer, editor):
    browser = site.browser(deployer)
    files = sorted((MIWG / editor).glob("*.bpmn"))
    assert files
    for path in files:
        response = upload(browser, (path.name, path.read_bytes()))
        page = text(response)
        assert response.status_code in (200, 422), (path, response.status_code)
        rows = problem_rows(page)
        if response.status_code == 422:
            assert rows, path
        for _severity, filename, line, element, message in rows:
            assert filename == path.name and message, (path, message)
            assert line != "–" or element != "–", f"{path.name}: '{message}' says neither line nor element"


def test_a_file_that_is_not_xml_is_refused_with_a_clear_message(site, deployer):
    response = upload(site.browser(deployer), ("scan.bpmn", b"%PDF-1.4\n%%EOF\n"))
    assert response.status_code == 400
    assert field_error(text(response), "files") == ("scan.bpmn is not an XML file. Choose the .bpmn file that the "
                                                    "BPMN editor saved.")


def test_a_file_larger_than_5_mb_is_refused_with_a_clear_message(site, deployer):
    big = b"<x>" + b" " * (5 * 1024 * 1024) + b"</x>"
    response = upload(site.browser(deployer), ("besar.bpmn", big))
    assert response.status_code == 400
    assert "besar.bpmn is larger than 5 MB" in field_error(text(response), "files")


def test_an_empty_choice_or_an_empty_file_is_refused_with_a_message(site, deployer):
    browser = site.browser(deployer)
    response = browser.upload("/kelola/unggah", {})
    assert response.status_code == 400
    assert field_error(text(response), "files") == "Choose one or more .bpmn files."
    response = upload(browser, ("kosong.bpmn", b""))
    assert field_error(text(response), "files") == "kosong.bpmn is empty."


def test_a_malformed_diagram_is_reported_with_its_line(site, deployer):
    response = upload(site.browser(deployer), ("rusak.bpmn", b"<?xml version='1.0'?>\n<definitions>\n<oops>\n"))
    rows = problem_rows(text(response))
    assert response.status_code == 422
    assert rows and rows[0][1] == "rusak.bpmn" and rows[0][2] != "–" and "well-formed" in rows[0][4]


def test_the_report_states_the_main_path_and_warns_about_a_lane_nobody_holds(site, deployer):
    data = changed(SOP003, "lane").replace(b'<bpmn:lane id="Lane_Kadiv" name="Kadiv"',
                                           b'<bpmn:lane id="Lane_Kadiv" name="Kadiv Baru"')
    response = upload(site.browser(deployer), ("sop_003.bpmn", data))
    page = text(response)
    assert response.status_code == 200, "warnings do not block"
    info = re.findall(r'<p class="info-line">(.*?)</p>', page)
    assert any(f"process '{SOP003}': main path" in html.unescape(line) for line in info), info
    warnings = [row for row in problem_rows(page) if row[0] == "Warning"]
    assert any(row[3] == "Lane_Kadiv" and "Kadiv Baru" in row[4] and row[2] != "–" for row in warnings), warnings
    assert token_of(page), "a deployer may still deploy"


def test_a_file_identical_to_the_current_version_is_shown_as_unchanged(site, deployer):
    page = text(upload(site.browser(deployer), ("sop_004.bpmn", seed_file("sop_004_yankomas"))))
    row = re.search(r'<tr data-key="sop_004_yankomas">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "unchanged" in row


def test_a_process_and_the_process_its_call_activity_runs_deploy_together_from_two_files(site, deployer):
    browser = site.browser(deployer)
    files = [(name, (ROOT / "tests" / "fixtures" / name).read_bytes()) for name in ("call_main.bpmn", "call_sub.bpmn")]
    page = text(upload(browser, *files))
    assert "No errors" in page, problem_rows(page)
    assert '<tr data-key="call_main">' in page and '<tr data-key="call_sub">' in page
    response = browser.post("/kelola/unggah/terapkan", {"token": token_of(page), "note": "telaah dipisah"})
    assert response.status_code == 302
    page = text(browser.get("/kelola/proses/call_main"))
    assert "telaah dipisah" in page
    with site.alur.uow(write=False) as uow:
        main = uow.deployments.latest("call_main")
        assert [name for name, _ in uow.deployments.files(main.id)] == ["call_sub.bpmn"]
