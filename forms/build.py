"""Form specs from Camunda formData or from an SOP step's columns, and the render model templates use."""

from __future__ import annotations

import re

from .files import DEFAULT_ALLOWED, KINDS
from .model import Field, FormSpec, Message, Upload

CAMUNDA_TYPES = {"string", "long", "boolean", "date", "enum"}
INT_CONSTRAINTS = ("minlength", "maxlength", "min", "max")
NOTES_MAXLENGTH = 4000
RADIO_MAX_CHOICES = 4

_SEPARATORS = re.compile(r"[,;\n\r]+|\s+(?:&|dan)\s+", re.IGNORECASE)
# "1." / "2)" / "a)" may number items inline; "a." only where an item starts, since "H. Ahmad" is a name.
_INLINE_NUMBER = re.compile(r"(?:^|\s)(?:\d{1,2}[.)]|[a-zA-Z]\))(?=\s)")
_LEADING_MARK = re.compile(r"^(?:[a-zA-Z][.)]|\d{1,2}[.)]|[-•*·])\s+")


def split_items(text) -> list[str]:
    """The separate items of an SOP "Kelengkapan" text, in order and without repeats."""
    if not isinstance(text, str):
        return []
    items, seen = [], set()
    for piece in _SEPARATORS.split(text):
        for part in _INLINE_NUMBER.split(piece):
            item = _LEADING_MARK.sub("", " ".join(part.split())).strip(" .:")
            key = item.casefold()
            if item and key not in seen:
                seen.add(key)
                items.append(item)
    return items


def _int_or_none(config) -> int | None:
    try:
        return int(str(config).strip())
    except (TypeError, ValueError):
        return None


def _field_from_definition(d: dict) -> Field:
    name = d.get("id")
    constraints_in = d.get("constraints") or {}
    constraints = {k: n for k in INT_CONSTRAINTS if (n := _int_or_none(constraints_in.get(k))) is not None}
    choices = tuple((str(v), str(n if n is not None else v)) for v, n in (d.get("values") or ()) if v is not None)
    kind = d.get("type") if d.get("type") in CAMUNDA_TYPES else "string"
    if kind == "enum" and not choices:
        kind = "string"
    default = d.get("default")
    return Field(
        name=name,
        label=str(d.get("label") or name),
        type=kind,
        required=bool(d.get("required")) or "required" in constraints_in,
        choices=choices if kind == "enum" else (),
        default=None if default is None else str(default),
        constraints=constraints,
        help=str(d.get("help") or ""),
    )


def from_definition(fields: list[dict]) -> FormSpec:
    """The form a diagram's camunda:formData declares."""
    return FormSpec(tuple(_field_from_definition(d) for d in fields), derived=False)


def _as_dict(decision) -> dict | None:
    if decision is None or isinstance(decision, dict):
        return decision
    return decision.as_dict() if hasattr(decision, "as_dict") else None


def _decision_field(decision: dict) -> Field:
    values = [str(v) for v in decision.get("choices") or ()]
    labels = list(decision.get("labels") or ())
    labels += [None] * (len(values) - len(labels))
    return Field(name=decision["variable"], label="Keputusan", type="enum", required=True,
                 choices=tuple((v, str(lbl) if lbl else v) for v, lbl in zip(values, labels, strict=False)),
                 role="decision")


def _unique(fields) -> tuple[Field, ...]:
    seen, kept = set(), []
    for f in fields:
        if f.name not in seen:
            seen.add(f.name)
            kept.append(f)
    return tuple(kept)


def derive(*, kelengkapan: str | None, output: str | None, decision: dict | None) -> FormSpec:
    """The form an SOP step implies: tick its inputs, decide, attach its output, add notes."""
    fields = []
    items = split_items(kelengkapan)
    if items:
        # Ticking records which inputs were present; it does not block the step, because an SOP step still has to
        # be done (and its gap recorded) when an input is missing, and the CLI completes steps without a checklist.
        fields.append(Field(name="kelengkapan", label="Kelengkapan", type="checklist", required=False,
                            choices=tuple((i, i) for i in items), role="kelengkapan"))
    decision = _as_dict(decision)
    if decision:
        fields.append(_decision_field(decision))
    if isinstance(output, str) and output.strip():
        fields.append(Field(name="keluaran", label=" ".join(output.split()), type="file", role="output"))
    fields.append(Field(name="catatan", label="Catatan", type="text",
                        constraints={"maxlength": NOTES_MAXLENGTH}, role="notes"))
    # A decision variable may share a name with a fixed field; the decision comes first and wins.
    return FormSpec(_unique(fields), derived=True)


def form_for_step(step: dict) -> FormSpec:
    """The form of a user task: its formData when it has one, otherwise the derived form."""
    decision = _as_dict(step.get("decision"))
    if step.get("form"):
        spec = from_definition(step["form"])
        if decision and spec.field(decision["variable"]) is None:
            # Without the variable the gateway after this task could never be routed.
            spec = FormSpec(spec.fields + (_decision_field(decision),), derived=False)
        return spec
    return derive(kelengkapan=step.get("kelengkapan"), output=step.get("output"), decision=decision)


def form_for_start(fields: list[dict]) -> FormSpec | None:
    """The form of a start event, or None when it asks for nothing."""
    return from_definition(fields) if fields else None


def _input_type(f: Field) -> str:
    if f.type == "enum":
        return "radio" if len(f.choices) <= RADIO_MAX_CHOICES else "select"
    return {"string": "text", "text": "textarea", "long": "number", "boolean": "checkbox", "date": "date",
            "checklist": "checkbox", "file": "file"}[f.type]


def _attrs(f: Field, allowed) -> dict:
    attrs = {}
    if f.required and f.type != "boolean":
        attrs["required"] = True
    if f.type in ("string", "text"):
        attrs.update({k: f.constraints[k] for k in ("minlength", "maxlength") if k in f.constraints})
    elif f.type == "long":
        attrs.update({k: f.constraints[k] for k in ("min", "max") if k in f.constraints})
        attrs["step"] = 1
    elif f.type == "file":
        attrs["accept"] = ",".join(ext for kind, (_, exts) in KINDS.items() if kind in allowed for ext in exts)
    return attrs


def _display(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Upload):
        return value.filename if isinstance(value.filename, str) else ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, list | tuple):
        return _display(value[0]) if value else ""
    return str(value)


def _current(f: Field, values: dict | None):
    if values is None:
        if f.type == "checklist":
            return []
        return f.default or ""
    value = values.get(f.name)
    if f.type == "checklist":
        items = value if isinstance(value, list | tuple) else [] if value is None else [value]
        return [_display(v) for v in items]
    return _display(value)


def render_fields(spec: FormSpec, values: dict | None = None, errors: dict[str, Message] | None = None,
                  *, allowed=DEFAULT_ALLOWED) -> list[dict]:
    """One dict per field with everything a template needs to draw it."""
    errors = errors or {}
    rendered = []
    for f in spec.fields:
        value = _current(f, values)
        chosen = set(value) if isinstance(value, list) else {value}
        rendered.append({
            "name": f.name,
            "label": f.label,
            "type": f.type,
            "required": f.required,
            "choices": [{"value": v, "label": lbl, "selected": v in chosen} for v, lbl in f.choices],
            "help": f.help,
            "role": f.role,
            "value": value,
            "checked": f.type == "boolean" and str(value).strip().casefold() in {"on", "true", "1", "ya", "yes"},
            "error": errors.get(f.name),
            "input": _input_type(f),
            "attrs": _attrs(f, allowed),
        })
    return rendered
