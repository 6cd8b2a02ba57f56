"""The Indonesian catalog covers every UI msgid, keeps no stale entries, and is what the pages show by default."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from flask_babel import force_locale

import webui
from tests.conftest import make_app
from webui import i18n as web_i18n

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("alur_i18n_tool", ROOT / "tools" / "i18n.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)
REFRESH = "run `.venv/bin/python tools/i18n.py update`, translate, then `.venv/bin/python tools/i18n.py check`"


@pytest.fixture(scope="module")
def template():
    return tool.extract()


@pytest.fixture(scope="module")
def catalog():
    return tool.load()


def test_extraction_sees_every_kind_of_marker(template):
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in template}
    assert "Log in" in ids  # _() in a template
    assert "You are logged out." in ids  # gettext() in a view
    assert "%(num)d day" in ids  # ngettext()
    assert "This field is required." in ids  # N_() in forms/
    assert "Choose the office the case belongs to." in ids  # forms.N_() in a view


def test_every_msgid_has_an_indonesian_translation(template, catalog):
    problems = tool.untranslated(template, catalog)
    assert not problems, f"{REFRESH}:\n" + "\n".join(problems)


def test_catalog_keeps_no_stale_or_obsolete_entries(template, catalog):
    leftovers = tool.leftovers(template, catalog)
    assert not leftovers, f"{REFRESH}:\n" + "\n".join(leftovers)


def test_catalog_header_has_one_plural_form(catalog):
    assert catalog.num_plurals == 1
    assert catalog.plural_expr == "0"
    assert not catalog.fuzzy


def test_check_catches_fuzzy_empty_and_wrong_placeholders():
    template, translated = Catalog(), Catalog(locale="id")
    for msgid in ("Case %(number)s started.", "Choose one of: {choices}.", "Step completed.", "Log in"):
        template.add(msgid)
    translated.add("Case %(number)s started.", "Permohonan %(nomor)s telah dimulai.")
    translated.add("Choose one of: {choices}.", "Pilih salah satu.")
    translated.add("Step completed.", "Langkah selesai.", flags=["fuzzy"])
    translated.add("Not used anywhere", "Tidak dipakai")
    problems = tool.problems(template, translated)
    assert len(problems) == 5, problems
    assert [p.split(":")[0].split(" [")[0] for p in problems] == [
        "placeholders", "placeholders", "fuzzy", "missing from the catalog", "stale (no source uses it)"]


@pytest.fixture
def client(tmp_path):
    alur = make_app(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    app = webui.create_app({"TESTING": True, "SECRET_KEY": "x"}, alur=alur)
    yield app.test_client()
    alur.engine.dispose()


def test_login_page_is_indonesian_by_default(client):
    page = client.get("/masuk").get_data(as_text=True)
    assert '<html lang="id">' in page
    assert "<h1>Masuk</h1>" in page
    assert "Nama pengguna" in page and "Kata sandi" in page
    assert "Log in" not in page


def test_login_page_in_english_on_request(client):
    page = client.get("/masuk?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "<h1>Log in</h1>" in page
    assert "Masuk" not in page


def test_durations_use_the_single_indonesian_plural_form(client):
    with client.application.test_request_context("/"), force_locale("id"):
        assert web_i18n.span(2 * 86400 + 3 * 3600) == "2 hari 3 jam"
        assert web_i18n.standard_time("P1DT2H") == "1 hari kerja 2 jam"
        assert web_i18n.span(30) == "kurang dari satu menit"
