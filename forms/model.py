"""Form specs, fields, uploads and the messages shown when input is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FIELD_TYPES = ("string", "text", "long", "boolean", "date", "enum", "checklist", "file")
ROLES = ("", "kelengkapan", "output", "notes", "decision")


def N_(s: str) -> str:
    """Mark a message template for Babel extraction without translating it."""
    return s


REQUIRED = N_("This field is required.")
NOT_SINGLE = N_("Enter a single value.")
NOT_TEXT = N_("Enter text.")
WHOLE_NUMBER = N_("Enter a whole number.")
NUMBER_MIN = N_("Enter a number of at least {min}.")
NUMBER_MAX = N_("Enter a number of at most {max}.")
TOO_LONG = N_("Use at most {max} characters.")
TOO_SHORT = N_("Use at least {min} characters.")
YES_NO = N_("Answer yes or no.")
DATE_FORMAT = N_("Enter a date as YYYY-MM-DD.")
DATE_MISSING = N_("This date does not exist.")
CHOICE = N_("Choose one of: {choices}.")
CHECKLIST_MISSING = N_("Tick every required input; missing: {missing}.")
NOT_A_FILE = N_("Attach a file.")
FILE_EMPTY = N_("The file is empty.")
FILE_TOO_LARGE = N_("The file is larger than {limit}.")
FILE_TYPE = N_("Files of this type are not accepted ({kind}); allowed: {allowed}.")
FILE_MISMATCH = N_("The file name does not match its content.")


@dataclass(frozen=True)
class Message:
    """A translatable message template and the values it is formatted with."""

    template: str
    params: dict = field(default_factory=dict, hash=False)

    def __str__(self) -> str:
        return self.template.format(**self.params)


@dataclass(frozen=True)
class Field:
    """One input of a form; its name is the workflow variable it sets."""

    name: str
    label: str
    type: str = "string"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    default: str | None = None
    constraints: dict = field(default_factory=dict, hash=False)
    help: str = ""
    role: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"form field name {self.name!r} is not an identifier")
        if self.type not in FIELD_TYPES:
            raise ValueError(f"form field {self.name!r} has unknown type {self.type!r}")
        if self.role not in ROLES:
            raise ValueError(f"form field {self.name!r} has unknown role {self.role!r}")

    def choice_label(self, value: str) -> str:
        """The label shown for a choice value (the value itself when unknown)."""
        return next((label for v, label in self.choices if v == value), value)


@dataclass(frozen=True)
class FormSpec:
    """The fields of one form, in display order."""

    fields: tuple[Field, ...]
    derived: bool = False

    def __post_init__(self):
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"form has duplicate field names: {names}")

    def field(self, name: str) -> Field | None:
        """The field with this name, or None."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def has_files(self) -> bool:
        """Whether the form needs a multipart upload."""
        return any(f.type == "file" for f in self.fields)


class FormErrors(Exception):
    """Submitted input was rejected; carries every field's message and the entered values."""

    def __init__(self, errors: dict[str, Message], values: dict[str, Any] | None = None,
                 labels: dict[str, str] | None = None):
        self.errors = dict(errors)
        self.values = dict(values or {})
        self.labels = dict(labels or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = []
        for name, message in self.errors.items():
            label = self.labels.get(name, name)
            lines.append(f"{label}: {message}" if label else str(message))
        return "\n".join(lines)


@dataclass(frozen=True)
class Upload:
    """A file the user sent; head holds its first 8 KiB for sniffing."""

    filename: str
    content_type: str
    size: int
    head: bytes = b""
