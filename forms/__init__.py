"""Forms for user tasks: specs from diagrams or SOP steps, server-side validation and a render model."""

from .build import derive, form_for_start, form_for_step, from_definition, render_fields, split_items
from .files import DEFAULT_ALLOWED, check_upload, safe_filename, sniff
from .model import N_, Field, FormErrors, FormSpec, Message, Upload
from .validate import clean, shown_values

__all__ = [
    "DEFAULT_ALLOWED",
    "N_",
    "Field",
    "FormErrors",
    "FormSpec",
    "Message",
    "Upload",
    "check_upload",
    "clean",
    "derive",
    "form_for_start",
    "form_for_step",
    "from_definition",
    "render_fields",
    "safe_filename",
    "shown_values",
    "sniff",
    "split_items",
]
