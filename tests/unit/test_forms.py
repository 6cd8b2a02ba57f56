"""Forms: specs from diagrams and SOP steps, validation of every field type, uploads and the render model."""

import json
import random

import pytest

from forms import (
    DEFAULT_ALLOWED,
    N_,
    Field,
    FormErrors,
    FormSpec,
    Message,
    Upload,
    check_upload,
    clean,
    derive,
    form_for_start,
    form_for_step,
    from_definition,
    render_fields,
    safe_filename,
    sniff,
    split_items,
)


class MultiDict(dict):
    """Just enough of Werkzeug's MultiDict: several values per key, read with getlist."""

    def getlist(self, key):
        value = self.get(key, [])
        return list(value) if isinstance(value, list) else [value]


def spec(*fields, derived=False):
    return FormSpec(tuple(fields), derived=derived)


def errors_of(form, raw, files=None, **kw):
    with pytest.raises(FormErrors) as caught:
        clean(form, raw, files, **kw)
    return caught.value


def template(form, raw, name, files=None, **kw):
    return errors_of(form, raw, files, **kw).errors[name].template


PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
DOCX_HEAD = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def upload(filename="laporan.pdf", head=PDF_HEAD, size=None, content_type="application/pdf"):
    return Upload(filename=filename, content_type=content_type, size=len(head) if size is None else size, head=head)


# --- messages ------------------------------------------------------------------------------------------------------


def test_a_message_formats_its_template_with_its_params():
    assert str(Message(N_("Use at most {max} characters."), {"max": 5})) == "Use at most 5 characters."


def test_the_marker_for_translatable_templates_returns_its_argument_unchanged():
    assert N_("This field is required.") == "This field is required."


def test_form_errors_read_as_one_label_and_message_per_line():
    err = FormErrors({"nik": Message("This field is required.", {}), "": Message("Try again.", {})},
                     {"nik": ""}, {"nik": "NIK"})
    assert str(err) == "NIK: This field is required.\nTry again."


# --- splitting SOP "Kelengkapan" texts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "items"), [
    ("Kartu Tanda Penduduk", ["Kartu Tanda Penduduk"]),
    ("Rencana kegiatan & draft SP/MP", ["Rencana kegiatan", "draft SP/MP"]),
    ("Sarana, komputer, aplikasi antrian, printer", ["Sarana", "komputer", "aplikasi antrian", "printer"]),
    ("Bahan dan draft SP/MP", ["Bahan", "draft SP/MP"]),
    ("SP/MP", ["SP/MP"]),
    ("KTP; KK\nAkta kelahiran", ["KTP", "KK", "Akta kelahiran"]),
    ("1. KTP\n2. KK", ["KTP", "KK"]),
    ("1. KTP 2. Kartu Keluarga", ["KTP", "Kartu Keluarga"]),
    ("a) Surat pengantar b) Fotokopi KTP", ["Surat pengantar", "Fotokopi KTP"]),
    ("a. Surat pengantar\nb. Fotokopi KTP", ["Surat pengantar", "Fotokopi KTP"]),
    ("- KTP\n- KK", ["KTP", "KK"]),
    ("KTP, KK, KTP", ["KTP", "KK"]),
    ("Dokumen Andalan", ["Dokumen Andalan"]),
    ("Laporan R&D", ["Laporan R&D"]),
    ("  ,, ;\n", []),
    ("", []),
    (None, []),
])
def test_kelengkapan_text_is_split_into_items_in_order(text, items):
    assert split_items(text) == items


# --- the derived form ----------------------------------------------------------------------------------------------


DECISION = {"variable": "hasil_verifikasi", "choices": ["lengkap", "tidak_lengkap"],
            "labels": ["Berkas lengkap", None]}


def test_the_derived_form_asks_for_inputs_decision_output_and_notes_in_that_order():
    form = derive(kelengkapan="Rencana kegiatan & draft SP/MP", output="Laporan Pelaksanaan Pelayanan Publik",
                  decision=DECISION)
    assert form.derived
    assert [(f.name, f.type, f.role) for f in form.fields] == [
        ("kelengkapan", "checklist", "kelengkapan"),
        ("hasil_verifikasi", "enum", "decision"),
        ("keluaran", "file", "output"),
        ("catatan", "text", "notes"),
    ]
    assert form.has_files


def test_the_derived_checklist_records_kelengkapan_items_without_blocking_the_step():
    field = derive(kelengkapan="KTP, KK", output=None, decision=None).field("kelengkapan")
    assert not field.required and field.label == "Kelengkapan"
    assert field.choices == (("KTP", "KTP"), ("KK", "KK"))


def test_decision_choices_are_labelled_with_flow_names_and_fall_back_to_the_value():
    field = derive(kelengkapan=None, output=None, decision=DECISION).field("hasil_verifikasi")
    assert field.label == "Keputusan" and field.required
    assert field.choices == (("lengkap", "Berkas lengkap"), ("tidak_lengkap", "tidak_lengkap"))


def test_the_output_field_is_an_optional_file_labelled_with_the_output_text():
    field = derive(kelengkapan=None, output="Laporan Pelaksanaan Pelayanan Publik", decision=None).field("keluaran")
    assert field.label == "Laporan Pelaksanaan Pelayanan Publik"
    assert field.type == "file" and not field.required


def test_a_step_with_nothing_to_tick_decide_or_attach_still_takes_notes():
    form = derive(kelengkapan="", output="  ", decision=None)
    assert [f.name for f in form.fields] == ["catatan"]
    notes = form.field("catatan")
    assert notes.constraints == {"maxlength": 4000} and not notes.required and notes.label == "Catatan"
    assert not form.has_files


def test_a_decision_without_labels_uses_its_values():
    field = derive(kelengkapan=None, output=None,
                   decision={"variable": "ok", "choices": ["ya", "tidak"]}).field("ok")
    assert field.choices == (("ya", "ya"), ("tidak", "tidak"))


# --- forms declared in diagrams ------------------------------------------------------------------------------------


FORM_DATA = [
    {"id": "nama", "label": "Nama pemohon", "type": "string", "default": None, "required": True, "values": [],
     "constraints": {"required": None, "minlength": "3", "maxlength": "50"}},
    {"id": "jumlah", "label": "Jumlah", "type": "long", "default": "1", "required": False, "values": [],
     "constraints": {"min": "1", "max": "10", "readonly": None}},
    {"id": "setuju", "label": "Setuju", "type": "boolean", "default": None, "required": False, "values": []},
    {"id": "tanggal", "label": "Tanggal", "type": "date", "default": None, "required": False, "values": []},
    {"id": "jenis", "label": "Jenis", "type": "enum", "default": None, "required": True,
     "values": [("baru", "Baru"), ("perpanjangan", None)]},
    {"id": "warna", "label": "Warna", "type": "color", "default": None, "required": False, "values": []},
]


def test_form_data_becomes_fields_with_types_choices_and_integer_constraints():
    form = from_definition(FORM_DATA)
    assert not form.derived
    nama, jumlah, setuju, tanggal, jenis, warna = form.fields
    assert (nama.type, nama.required, nama.label, nama.constraints) == (
        "string", True, "Nama pemohon", {"minlength": 3, "maxlength": 50})
    assert (jumlah.type, jumlah.default, jumlah.constraints) == ("long", "1", {"min": 1, "max": 10})
    assert (setuju.type, tanggal.type) == ("boolean", "date")
    assert jenis.choices == (("baru", "Baru"), ("perpanjangan", "perpanjangan"))
    assert all(f.role == "" for f in form.fields)


def test_custom_form_field_types_are_shown_as_text():
    assert from_definition(FORM_DATA).field("warna").type == "string"


def test_a_required_constraint_alone_makes_a_field_required():
    form = from_definition([{"id": "x", "label": "X", "type": "string", "constraints": {"required": None}}])
    assert form.field("x").required


def test_constraints_that_are_not_numbers_are_ignored():
    form = from_definition([{"id": "x", "label": "X", "type": "string", "constraints": {"maxlength": "banyak"}}])
    assert form.field("x").constraints == {}


def test_a_field_name_must_be_usable_as_a_workflow_variable():
    with pytest.raises(ValueError):
        Field(name="nama pemohon", label="Nama", type="string")


def test_a_step_with_form_data_uses_it_and_adds_the_missing_decision():
    step = {"form": FORM_DATA[:1], "kelengkapan": "KTP", "output": "Surat", "decision": DECISION}
    form = form_for_step(step)
    assert not form.derived
    assert [f.name for f in form.fields] == ["nama", "hasil_verifikasi"]
    assert form.field("hasil_verifikasi").role == "decision"


def test_a_step_whose_form_data_already_sets_the_decision_variable_gets_no_extra_field():
    field = {"id": "hasil_verifikasi", "label": "Hasil", "type": "enum", "required": True,
             "values": [("lengkap", "Lengkap"), ("tidak_lengkap", "Tidak lengkap")]}
    form = form_for_step({"form": [field], "kelengkapan": None, "output": None, "decision": DECISION})
    assert [f.name for f in form.fields] == ["hasil_verifikasi"]
    assert form.field("hasil_verifikasi").label == "Hasil"


def test_a_step_without_form_data_gets_the_derived_form():
    form = form_for_step({"form": [], "kelengkapan": "KTP", "output": "", "decision": None})
    assert form.derived and [f.name for f in form.fields] == ["kelengkapan", "catatan"]


def test_a_start_event_without_fields_has_no_form():
    assert form_for_start([]) is None
    assert [f.name for f in form_for_start(FORM_DATA[:2]).fields] == ["nama", "jumlah"]


# --- validating each type ------------------------------------------------------------------------------------------


TEXT = Field(name="nama", label="Nama", type="string", required=True, constraints={"minlength": 3, "maxlength": 10})
NOTE = Field(name="catatan", label="Catatan", type="text")
COUNT = Field(name="jumlah", label="Jumlah", type="long", constraints={"min": 1, "max": 10})
FLAG = Field(name="setuju", label="Setuju", type="boolean")
DAY = Field(name="tanggal", label="Tanggal", type="date")
KIND = Field(name="jenis", label="Jenis", type="enum", choices=(("baru", "Baru"), ("lama", "Lama")))
ITEMS = Field(name="kelengkapan", label="Kelengkapan", type="checklist", required=True,
              choices=(("KTP", "KTP"), ("KK", "Kartu Keluarga"), ("Akta", "Akta")))
FILE = Field(name="keluaran", label="Laporan", type="file")


def test_text_is_stripped():
    assert clean(spec(TEXT), {"nama": "  Budi  "}) == {"nama": "Budi"}


def test_missing_required_field_is_reported_with_its_name():
    err = errors_of(spec(TEXT), {})
    assert err.errors["nama"].template == "This field is required."
    assert str(err) == "Nama: This field is required."


def test_blank_required_text_counts_as_missing():
    assert template(spec(TEXT), {"nama": "   "}, "nama") == "This field is required."


def test_text_length_constraints_are_enforced():
    too_short = errors_of(spec(TEXT), {"nama": "Bu"}).errors["nama"]
    too_long = errors_of(spec(TEXT), {"nama": "B" * 11}).errors["nama"]
    assert str(too_short) == "Use at least 3 characters."
    assert str(too_long) == "Use at most 10 characters."


def test_an_empty_optional_text_is_left_out():
    assert clean(spec(NOTE), {"catatan": ""}) == {}


def test_textarea_line_breaks_are_normalised_and_control_characters_dropped():
    assert clean(spec(NOTE), {"catatan": "baris\r\nkedua\x00\x07"}) == {"catatan": "baris\nkedua"}


def test_an_empty_optional_field_takes_its_default():
    field = Field(name="jumlah", label="Jumlah", type="long", default="3")
    assert clean(spec(field), {"jumlah": ""}) == {"jumlah": 3}
    assert clean(spec(field), {}) == {"jumlah": 3}


@pytest.mark.parametrize(("raw", "expected"), [("9", 9), (" 7 ", 7), ("+3", 3), ("007", 7), (5, 5), (10.0, 10)])
def test_whole_numbers_are_accepted_from_text_and_json(raw, expected):
    assert clean(spec(COUNT), {"jumlah": raw}) == {"jumlah": expected}


def test_a_number_above_the_maximum_is_reported_with_the_limit():
    assert str(errors_of(spec(COUNT), {"jumlah": "12"}).errors["jumlah"]) == "Enter a number of at most 10."
    assert str(errors_of(spec(COUNT), {"jumlah": "0"}).errors["jumlah"]) == "Enter a number of at least 1."


@pytest.mark.parametrize("raw", ["1.5", 1.5, "abc", True, False, "1_000", "1e3", "١٢", "0x10", [3]])
def test_anything_but_a_whole_number_is_rejected(raw):
    assert template(spec(COUNT), {"jumlah": raw}, "jumlah") in ("Enter a whole number.", "Enter a single value.")


def test_a_huge_number_is_out_of_range_rather_than_a_crash():
    assert template(spec(COUNT), {"jumlah": "9" * 10000}, "jumlah") == "Enter a number of at most {max}."


@pytest.mark.parametrize(("raw", "expected"), [
    ("on", True), ("true", True), ("1", True), ("ya", True), (True, True),
    ("false", False), (False, False), ("", False), (["false", "on"], True),
])
def test_checkbox_and_json_booleans_are_understood(raw, expected):
    assert clean(spec(FLAG), {"setuju": raw}) == {"setuju": expected}


def test_an_unticked_checkbox_means_no():
    assert clean(spec(FLAG), {}) == {"setuju": False}


def test_a_boolean_that_is_neither_yes_nor_no_is_rejected():
    assert template(spec(FLAG), {"setuju": "mungkin"}, "setuju") == "Answer yes or no."


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-03-01", "2026-03-01"), ("01/03/2026", "2026-03-01"), ("1/3/2026", "2026-03-01"),
])
def test_dates_are_stored_as_iso_and_may_be_typed_day_first(raw, expected):
    assert clean(spec(DAY), {"tanggal": raw}) == {"tanggal": expected}


@pytest.mark.parametrize("raw", ["2026-02-30", "31/04/2026", "2026-13-01", "0000-01-01"])
def test_dates_that_do_not_exist_are_rejected(raw):
    assert template(spec(DAY), {"tanggal": raw}, "tanggal") == "This date does not exist."


@pytest.mark.parametrize("raw", ["kemarin", "2026/03/01", "20260301", "03-2026", 20260301])
def test_dates_in_other_formats_are_rejected(raw):
    assert template(spec(DAY), {"tanggal": raw}, "tanggal") == "Enter a date as YYYY-MM-DD."


def test_a_choice_must_be_one_of_the_values_not_a_label():
    assert clean(spec(KIND), {"jenis": "baru"}) == {"jenis": "baru"}
    err = errors_of(spec(KIND), {"jenis": "Baru"}).errors["jenis"]
    assert str(err) == "Choose one of: baru, lama."


def test_a_checklist_returns_ticked_values_in_form_order():
    optional = Field(name="kelengkapan", label="K", type="checklist", choices=ITEMS.choices)
    assert clean(spec(optional), MultiDict(kelengkapan=["Akta", "KTP"])) == {"kelengkapan": ["KTP", "Akta"]}
    assert clean(spec(optional), {}) == {"kelengkapan": []}


def test_a_required_checklist_names_the_items_still_missing():
    err = errors_of(spec(ITEMS), MultiDict(kelengkapan=["KTP"])).errors["kelengkapan"]
    assert str(err) == "Tick every required input; missing: Kartu Keluarga, Akta."
    assert clean(spec(ITEMS), MultiDict(kelengkapan=["KTP", "KK", "Akta"])) == {"kelengkapan": ["KTP", "KK", "Akta"]}


def test_a_checklist_rejects_items_that_are_not_on_it():
    assert template(spec(ITEMS), {"kelengkapan": ["KTP", "Paspor"]}, "kelengkapan") == "Choose one of: {choices}."


def test_a_checklist_may_be_ticked_whole_from_json():
    assert clean(spec(ITEMS), {"kelengkapan": True}) == {"kelengkapan": ["KTP", "KK", "Akta"]}


# --- the whole form ------------------------------------------------------------------------------------------------


def test_all_errors_are_collected_at_once_and_what_was_typed_is_kept():
    form = spec(TEXT, COUNT, DAY, KIND, ITEMS, FLAG)
    raw = MultiDict(nama="Bu", jumlah="dua", tanggal="30/02/2026", jenis="x", kelengkapan=["KTP"], setuju="on")
    err = errors_of(form, raw)
    assert set(err.errors) == {"nama", "jumlah", "tanggal", "jenis", "kelengkapan"}
    assert err.values == {"nama": "Bu", "jumlah": "dua", "tanggal": "30/02/2026", "jenis": "x",
                          "kelengkapan": ["KTP"], "setuju": "on"}
    assert len(str(err).splitlines()) == 5


def test_unknown_keys_never_reach_the_workflow():
    assert clean(spec(NOTE), {"catatan": "ok", "is_admin": True, "__class__": "x"}) == {"catatan": "ok"}


def test_typed_json_from_the_command_line_is_accepted():
    data = json.loads('{"nama": "Budi", "jumlah": 4, "setuju": true, "tanggal": "2026-01-05", "jenis": "lama",'
                      ' "kelengkapan": ["KTP", "KK", "Akta"]}')
    form = spec(TEXT, COUNT, FLAG, DAY, KIND, ITEMS)
    assert clean(form, data) == data


def test_a_list_for_a_single_value_uses_its_first_text_only():
    assert clean(spec(TEXT), {"nama": ["Budi", "Ani"]}) == {"nama": "Budi"}
    assert template(spec(TEXT), {"nama": [{"x": 1}]}, "nama") == "Enter a single value."
    assert template(spec(TEXT), {"nama": {"x": 1}}, "nama") == "Enter a single value."


def test_the_result_is_json_serialisable_without_files():
    form = spec(TEXT, COUNT, FLAG, DAY, KIND, ITEMS, NOTE)
    raw = MultiDict(nama="Budi", jumlah="4", setuju="on", tanggal="05/01/2026", jenis="baru",
                    kelengkapan=["KTP", "KK", "Akta"], catatan="x")
    assert json.loads(json.dumps(clean(form, raw)))["tanggal"] == "2026-01-05"


# --- uploads -------------------------------------------------------------------------------------------------------


def test_an_allowed_pdf_is_returned_as_the_upload():
    pdf = upload()
    assert clean(spec(FILE), {}, {"keluaran": pdf}) == {"keluaran": pdf}


def test_a_docx_is_recognised_by_its_zip_head_and_name():
    assert sniff(DOCX_HEAD, "laporan.docx") == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert check_upload(upload("laporan.docx", DOCX_HEAD, content_type="application/octet-stream"),
                        max_bytes=1000, allowed=DEFAULT_ALLOWED) is None


@pytest.mark.parametrize(("head", "name", "kind"), [
    (PDF_HEAD, "a.pdf", "application/pdf"), (PNG_HEAD, "a.png", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a.jpg", "image/jpeg"), (b"GIF89a\x01\x00", "a.gif", "image/gif"),
    (b"PK\x03\x04rest", "a.ods", "application/vnd.oasis.opendocument.spreadsheet"),
    (b"PK\x03\x04rest", "a.zip", None), (b"no,yes\n1,2\n", "data.csv", "text/csv"),
    ("teks \u00e9".encode() + b"\xc3", "a.txt", "text/plain"), (b"\x00\x01", "a.txt", None),
    (b"MZ\x90\x00", "setup.exe", None), (b"<!DOCTYPE html>", "page.html", None),
])
def test_content_is_sniffed_from_magic_bytes(head, name, kind):
    assert sniff(head, name) == kind


def test_an_empty_file_is_rejected():
    assert template(spec(FILE), {}, "keluaran", {"keluaran": upload(head=b"", size=0, filename="x.pdf")}) == \
        "The file is empty."


def test_a_file_above_the_limit_is_rejected_with_a_readable_limit():
    err = errors_of(spec(FILE), {}, {"keluaran": upload(size=11 * 1024 * 1024)}).errors["keluaran"]
    assert str(err) == "The file is larger than 10 MB."


def test_an_executable_is_not_accepted_and_the_message_lists_what_is():
    message = check_upload(upload("setup.exe", b"MZ\x90\x00\x03", content_type="application/x-msdownload"),
                           max_bytes=1000, allowed=DEFAULT_ALLOWED)
    assert message.template == "Files of this type are not accepted ({kind}); allowed: {allowed}."
    assert message.params["kind"] == ".exe"
    assert message.params["allowed"].startswith("PDF, PNG, JPEG, Word (.docx), Excel (.xlsx)")


def test_an_html_page_is_not_accepted():
    message = check_upload(upload("page.html", b"<html><script>", content_type="text/html"),
                           max_bytes=1000, allowed=DEFAULT_ALLOWED)
    assert message.params["kind"] == ".html"


def test_a_recognised_but_unlisted_kind_is_named_in_the_message():
    message = check_upload(upload("anim.gif", b"GIF89a....", content_type="image/gif"),
                           max_bytes=1000, allowed=DEFAULT_ALLOWED)
    assert message.params["kind"] == "GIF"


def test_a_file_whose_name_claims_an_allowed_kind_its_content_is_not_is_rejected():
    disguised = upload("laporan.pdf", b"MZ\x90\x00", content_type="application/pdf")
    assert check_upload(disguised, max_bytes=1000, allowed=DEFAULT_ALLOWED).template == \
        "The file name does not match its content."


def test_a_pdf_named_like_another_kind_is_rejected():
    for name in ("foto.png", "laporan.html", "run.exe"):
        assert check_upload(upload(name), max_bytes=1000, allowed=DEFAULT_ALLOWED).template == \
            "The file name does not match its content."


def test_the_declared_content_type_does_not_matter_when_the_content_is_recognised():
    assert check_upload(upload(content_type="application/octet-stream"), max_bytes=1000,
                        allowed=DEFAULT_ALLOWED) is None


def test_an_untouched_file_input_counts_as_no_file():
    empty_part = Upload(filename="", content_type="application/octet-stream", size=0, head=b"")
    assert clean(spec(FILE), {}, {"keluaran": empty_part}) == {}
    required = Field(name="keluaran", label="Laporan", type="file", required=True)
    assert template(spec(required), {}, "keluaran", {"keluaran": empty_part}) == "This field is required."


def test_a_rejected_upload_keeps_only_its_file_name_for_redisplay():
    err = errors_of(spec(FILE, TEXT), {}, {"keluaran": upload("../x/setup.exe", b"MZ")})
    assert err.values["keluaran"] == "setup.exe"
    assert all(isinstance(v, str | list) for v in err.values.values())


def test_something_other_than_an_upload_in_files_is_rejected():
    assert template(spec(FILE), {}, "keluaran", {"keluaran": "/etc/passwd"}) == "Attach a file."


def test_a_text_value_sent_for_a_file_field_is_ignored():
    assert clean(spec(FILE), {"keluaran": "/etc/passwd"}) == {}


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\budi\\laporan akhir.pdf", "laporan akhir.pdf"),
    ("lap\x00or\x1ban.pdf", "laporan.pdf"),
    ("surat#1 <final>.pdf", "surat_1 _final_.pdf"),
    ("Laporan (revisi) – Dinas.docx", "Laporan (revisi) _ Dinas.docx"),
    ("berkas_ñandú-é.pdf", "berkas_ñandú-é.pdf"),
    ("..", "lampiran"),
    ("", "lampiran"),
    ("\x00\x01", "lampiran"),
    (None, "lampiran"),
    ("CON.txt", "_CON.txt"),
])
def test_file_names_are_made_safe_to_store(name, safe):
    assert safe_filename(name) == safe


def test_long_file_names_are_cut_to_120_characters_keeping_the_extension():
    name = safe_filename("a" * 300 + ".pdf")
    assert len(name) == 120 and name.endswith(".pdf")


# --- render model --------------------------------------------------------------------------------------------------


def test_render_fields_give_templates_input_types_and_attributes():
    form = spec(TEXT, NOTE, COUNT, FLAG, DAY, KIND, ITEMS, FILE)
    rendered = {r["name"]: r for r in render_fields(form)}
    assert {n: r["input"] for n, r in rendered.items()} == {
        "nama": "text", "catatan": "textarea", "jumlah": "number", "setuju": "checkbox", "tanggal": "date",
        "jenis": "radio", "kelengkapan": "checkbox", "keluaran": "file"}
    assert rendered["nama"]["attrs"] == {"required": True, "minlength": 3, "maxlength": 10}
    assert rendered["jumlah"]["attrs"] == {"min": 1, "max": 10, "step": 1}
    assert ".pdf" in rendered["keluaran"]["attrs"]["accept"]
    assert rendered["kelengkapan"]["value"] == []
    assert rendered["jenis"]["choices"][0] == {"value": "baru", "label": "Baru", "selected": False}


def test_render_fields_show_kept_values_and_errors_after_a_failed_submission():
    form = spec(TEXT, KIND, ITEMS, FLAG)
    err = errors_of(form, MultiDict(nama="Bu", jenis="lama", kelengkapan=["KK"], setuju="on"))
    rendered = {r["name"]: r for r in render_fields(form, err.values, err.errors)}
    assert rendered["nama"]["value"] == "Bu"
    assert str(rendered["nama"]["error"]) == "Use at least 3 characters."
    assert rendered["jenis"]["error"] is None
    assert [c["selected"] for c in rendered["jenis"]["choices"]] == [False, True]
    assert [c["selected"] for c in rendered["kelengkapan"]["choices"]] == [False, True, False]
    assert rendered["setuju"]["checked"]


def test_render_fields_prefill_defaults_on_a_fresh_form():
    form = from_definition([{"id": "jumlah", "label": "Jumlah", "type": "long", "default": "2"},
                            {"id": "ok", "label": "OK", "type": "boolean", "default": "true"}])
    rendered = render_fields(form)
    assert rendered[0]["value"] == "2"
    assert rendered[1]["checked"]


def test_an_enum_with_many_choices_is_a_select():
    many = Field(name="kota", label="Kota", type="enum", choices=tuple((str(i), str(i)) for i in range(6)))
    assert render_fields(spec(many))[0]["input"] == "select"


# --- nothing but a result or FormErrors ----------------------------------------------------------------------------


def _odd_value(rng):
    pool = [
        None, True, False, 0, -1, 2**70, 1.5, float("nan"), float("inf"), "", " ", "\x00", "\ud800", "on",
        "2026-02-30", "31/12/2026", "KTP", "baru", "9" * 5000, "x" * 200_000, b"\xff\xfe", bytearray(b"a"),
        {"a": 1}, {"__class__": None}, [], [None], [1, 2], ["KTP", "KK"], [["KTP"]], [{"x": 1}], ("baru",),
        object(), {1, 2}, "‮evil", "١٢", "12\n", "-0", "+", "--1",
    ]
    value = rng.choice(pool)
    if rng.random() < 0.3:
        value = "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(0, 20)))
    if rng.random() < 0.1:
        value = [value, rng.choice(pool)]
    return value


ODD_UPLOADS = [None, "x", 3, [], upload(), [upload()], upload("a.exe", b"MZ"), upload("a.txt", b"\x00"),
               Upload(filename=None, content_type=None, size=True, head="teks"),
               Upload(filename=b"a.pdf", content_type="", size=10**20, head=PDF_HEAD),
               Upload(filename="", content_type="", size=0, head=b"")]


@pytest.mark.parametrize("required", [True, False])
def test_any_raw_input_gives_a_result_or_form_errors(required):
    rng = random.Random(20260301)
    optional_text = Field(name="nama", label="Nama", type="string", constraints={"maxlength": 10})
    optional_items = Field(name="kelengkapan", label="K", type="checklist", choices=ITEMS.choices)
    form = spec(TEXT if required else optional_text, NOTE, COUNT, FLAG, DAY, KIND,
                ITEMS if required else optional_items, FILE,
                Field(name="tahun", label="Tahun", type="long", default="2026"))
    names = [f.name for f in form.fields] + ["lain"]
    outcomes = {"ok": 0, "errors": 0}
    for i in range(2500):
        raw = {name: _odd_value(rng) for name in names if rng.random() < (0.8 if required else 0.3)}
        if i % 2:
            raw = MultiDict(raw)
        files = {"keluaran": rng.choice(ODD_UPLOADS)}
        try:
            result = clean(form, raw, files)
        except FormErrors as err:
            outcomes["errors"] += 1
            assert set(err.errors) <= set(names)
            json.dumps(err.values)
            render_fields(form, err.values, err.errors)
            str(err)
            continue
        outcomes["ok"] += 1
        assert set(result) <= set(names) - {"lain"}
        json.dumps({k: v for k, v in result.items() if k != "keluaran"})
        render_fields(form, result)
    assert outcomes["errors"] > 0
    assert outcomes["ok"] > 0 or required


def test_a_raw_mapping_that_is_none_or_not_a_mapping_is_treated_as_empty():
    assert clean(spec(NOTE), None) == {}
    assert clean(spec(NOTE), ["catatan"]) == {}
