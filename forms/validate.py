"""Server-side validation of submitted form input into clean, JSON-ready workflow data."""

from __future__ import annotations

import re
from datetime import date

from .files import DEFAULT_ALLOWED, DEFAULT_MAX_BYTES, check_upload, safe_filename
from .model import (
    CHECKLIST_MISSING,
    CHOICE,
    DATE_FORMAT,
    DATE_MISSING,
    NOT_A_FILE,
    NOT_SINGLE,
    NOT_TEXT,
    NUMBER_MAX,
    NUMBER_MIN,
    REQUIRED,
    TOO_LONG,
    TOO_SHORT,
    WHOLE_NUMBER,
    YES_NO,
    Field,
    FormErrors,
    FormSpec,
    Message,
    Upload,
)

# Without a maxlength a text field still must not swallow megabytes into the workflow data.
MAX_TEXT = 100_000
# Workflow data ends up in JSON columns and other systems; keep integers within 64 bits.
MAX_INT = 2**63 - 1
TRUE_WORDS = {"on", "true", "1", "ya", "yes", "y"}
FALSE_WORDS = {"", "off", "false", "0", "tidak", "no", "n"}

_ABSENT = object()
# NUL cannot be stored in PostgreSQL text/jsonb and lone surrogates cannot be encoded; other controls are noise.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_DMY_DATE = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})", re.ASCII)


class _Bad(Exception):
    def __init__(self, template: str, **params):
        super().__init__(template)
        self.message = Message(template, params)


def _entry(mapping, name: str):
    """What was sent for a name: a scalar, a list when several values came, or _ABSENT."""
    getlist = getattr(mapping, "getlist", None)
    if callable(getlist):
        items = list(getlist(name))
        return _ABSENT if not items else items[0] if len(items) == 1 else items
    get = getattr(mapping, "get", None)
    return get(name, _ABSENT) if callable(get) else _ABSENT


def _scalar(entry):
    if isinstance(entry, list | tuple):
        if not entry:
            return None
        if not isinstance(entry[0], str):
            raise _Bad(NOT_SINGLE)
        return entry[0]
    if isinstance(entry, bytes | bytearray):
        return bytes(entry).decode("utf-8", "replace")
    if entry is _ABSENT or entry is None or isinstance(entry, str | int | float):
        return None if entry is _ABSENT else entry
    raise _Bad(NOT_SINGLE)


def _text(entry) -> str | None:
    """The entry as stripped text, or None when nothing was entered."""
    value = _scalar(entry)
    if isinstance(value, bool):
        raise _Bad(NOT_TEXT)
    if isinstance(value, int | float):
        value = str(value)
    if value is None:
        return None
    value = _CONTROL.sub("", value.replace("\r\n", "\n")).strip()
    return value or None


def _clean_string(f: Field, entry):
    value = _text(entry)
    if value is None:
        return None
    limit = min(f.constraints.get("maxlength", MAX_TEXT), MAX_TEXT)
    if len(value) > limit:
        raise _Bad(TOO_LONG, max=limit)
    if len(value) < f.constraints.get("minlength", 0):
        raise _Bad(TOO_SHORT, min=f.constraints["minlength"])
    return value


def _integer(entry) -> int | None:
    value = _scalar(entry)
    if isinstance(value, bool):
        raise _Bad(WHOLE_NUMBER)
    if isinstance(value, float):
        if not value.is_integer():
            raise _Bad(WHOLE_NUMBER)
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _INTEGER.fullmatch(text):
            raise _Bad(WHOLE_NUMBER)
        sign, digits = (text[0], text[1:]) if text[0] in "+-" else ("", text)
        digits = digits.lstrip("0") or "0"
        # Too many digits are out of range anyway, and int() refuses very long strings.
        if len(digits) > 19:
            raise _Bad(NUMBER_MIN, min=-MAX_INT) if sign == "-" else _Bad(NUMBER_MAX, max=MAX_INT)
        value = int(sign + digits)
    return value


def _clean_long(f: Field, entry):
    value = _integer(entry)
    if value is None:
        return None
    low, high = max(f.constraints.get("min", -MAX_INT), -MAX_INT), min(f.constraints.get("max", MAX_INT), MAX_INT)
    if value < low:
        raise _Bad(NUMBER_MIN, min=low)
    if value > high:
        raise _Bad(NUMBER_MAX, max=high)
    return value


def _truth(item) -> bool:
    if isinstance(item, bool):
        return item
    if isinstance(item, int) and item in (0, 1):
        return bool(item)
    word = item.strip().casefold() if isinstance(item, str) else None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _Bad(YES_NO)


def _clean_boolean(f: Field, entry):
    # An unticked checkbox sends nothing, so absent means no; a hidden "false" may come along with "on".
    if entry is _ABSENT or entry is None:
        return False
    items = list(entry) if isinstance(entry, list | tuple) else [entry]
    return any([_truth(item) for item in items])


def _clean_date(f: Field, entry):
    value = _text(entry)
    if value is None:
        return None
    if match := _ISO_DATE.fullmatch(value):
        year, month, day = match.groups()
    elif match := _DMY_DATE.fullmatch(value):
        day, month, year = match.groups()
    else:
        raise _Bad(DATE_FORMAT)
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise _Bad(DATE_MISSING) from None


def _clean_enum(f: Field, entry):
    value = _text(entry)
    if value is None or not f.choices:
        return value
    if value not in {v for v, _ in f.choices}:
        raise _Bad(CHOICE, choices=", ".join(v for v, _ in f.choices))
    return value


def _clean_checklist(f: Field, entry):
    if entry is _ABSENT or entry is None:
        items = []
    elif entry is True:
        items = [v for v, _ in f.choices]
    elif isinstance(entry, str):
        items = [entry]
    elif isinstance(entry, list | tuple) and all(isinstance(i, str) for i in entry):
        items = list(entry)
    else:
        raise _Bad(NOT_SINGLE)
    values = [v for v, _ in f.choices]
    ticked = {i.strip() for i in items} - {""}
    if ticked - set(values):
        raise _Bad(CHOICE, choices=", ".join(values))
    if f.required and (missing := [lbl for v, lbl in f.choices if v not in ticked]):
        raise _Bad(CHECKLIST_MISSING, missing=", ".join(missing))
    return [v for v in values if v in ticked]


_CLEANERS = {
    "string": _clean_string,
    "text": _clean_string,
    "long": _clean_long,
    "boolean": _clean_boolean,
    "date": _clean_date,
    "enum": _clean_enum,
    "checklist": _clean_checklist,
}


def _first_upload(entry):
    if isinstance(entry, list | tuple):
        entry = entry[0] if entry else None
    return None if entry is _ABSENT else entry


def _clean_file(f: Field, entry, max_bytes: int, allowed):
    upload = _first_upload(entry)
    if upload is None:
        return None
    if not isinstance(upload, Upload):
        raise _Bad(NOT_A_FILE)
    if not upload.filename and not upload.size:
        return None  # a file input left empty still sends a nameless, empty part
    if problem := check_upload(upload, max_bytes=max_bytes, allowed=allowed):
        raise _Bad(problem.template, **problem.params)
    return upload


def _from_default(f: Field):
    if f.default is None or f.type in ("boolean", "checklist", "file"):
        return None
    try:
        return _CLEANERS[f.type](f, f.default)
    except _Bad:
        return None  # a broken default is the diagram's fault; the user just has to fill the field in


def _shown(entry):
    """What to put back into the form after an error: text, or a list of texts."""
    if isinstance(entry, list | tuple):
        return [_shown(i) for i in entry if isinstance(i, str | int | float)]
    if isinstance(entry, bytes | bytearray):
        entry = bytes(entry).decode("utf-8", "replace")
    if isinstance(entry, bool):
        return "true" if entry else ""
    if isinstance(entry, str | int | float):
        return _CONTROL.sub("", str(entry))
    return ""


def _kept(f: Field, entry):
    if f.type == "file":
        upload = _first_upload(entry)
        return safe_filename(upload.filename) if isinstance(upload, Upload) and upload.filename else ""
    if f.type == "boolean":
        try:
            return "on" if _clean_boolean(f, entry) else ""
        except _Bad:
            pass
    shown = _shown(entry)
    if f.type == "checklist":
        return shown if isinstance(shown, list) else [shown] if shown else []
    if isinstance(shown, list):
        return shown[0] if shown else ""
    return shown


def shown_values(spec: FormSpec, raw) -> dict:
    """What to put back into the form's fields when it comes back for another reason: the input as typed."""
    raw = {} if raw is None else raw
    return {f.name: _kept(f, _entry(raw, f.name)) for f in spec.fields if f.type != "file"}


def clean(spec: FormSpec, raw, files=None, *, max_bytes: int = DEFAULT_MAX_BYTES, allowed=DEFAULT_ALLOWED) -> dict:
    """Typed workflow data from submitted input, or FormErrors naming every problem at once."""
    raw = {} if raw is None else raw
    files = {} if files is None else files
    data, errors, values = {}, {}, {}
    for f in spec.fields:
        entry = _entry(files if f.type == "file" else raw, f.name)
        values[f.name] = _kept(f, entry)
        try:
            value = (_clean_file(f, entry, max_bytes, allowed) if f.type == "file"
                     else _CLEANERS[f.type](f, entry))
            if value is None:
                value = _from_default(f)
            if value is None and f.required:
                raise _Bad(REQUIRED)
        except _Bad as bad:
            errors[f.name] = bad.message
            continue
        if value is not None:
            data[f.name] = value
    if errors:
        raise FormErrors(errors, values, {f.name: f.label for f in spec.fields})
    return data
