"""Keep the Indonesian UI catalog in step with the English msgids in the sources.

    python tools/i18n.py extract [POT]   write every msgid to a .pot (default: a temporary file; never commit it)
    python tools/i18n.py update          extract, then merge into webui/translations/id/LC_MESSAGES/messages.po
    python tools/i18n.py check           exit 1 listing msgids untranslated, fuzzy, stale or with other placeholders
"""

from __future__ import annotations

import argparse
import contextlib
import re
import string
import sys
import tempfile
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "webui" / "babel.cfg"
CATALOG = ROOT / "webui" / "translations" / "id" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}  # forms/ marks message templates with N_("...")
SOURCE_DIRS = ("webui", "forms")
PLURAL_FORMS = "nplurals=1; plural=0;"  # Indonesian has a single form
HEADER = """\
# Bahasa Indonesia for the Alur web UI; the msgids are the English source text.
# After changing UI text: .venv/bin/python tools/i18n.py update
# then translate every entry `tools/i18n.py check` lists."""
PERCENT = re.compile(r"%(?:\(\w+\))?[-#0+]?\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def extract() -> Catalog:
    """Every msgid in the Python sources and templates named by webui/babel.cfg."""
    with MAPPING.open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(MAPPING))

    def only_sources(path: str) -> bool:
        parts = Path(path).relative_to(ROOT).parts
        return parts[0] in SOURCE_DIRS and not parts[-1].startswith((".", "_"))  # no .cache, no __pycache__

    template = Catalog(project="Alur", version="0.1.0", charset="utf-8", fuzzy=False)
    found = extract_from_dir(ROOT, method_map, options_map, keywords=KEYWORDS, comment_tags=("Translators:",),
                             strip_comment_tags=True, directory_filter=only_sources)
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(Path(filename).as_posix(), lineno)], auto_comments=comments, context=context)
    return template


def load(path: Path = CATALOG) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale="id")


def render(catalog: Catalog, **options) -> bytes:
    out = BytesIO()
    write_po(out, catalog, width=100, include_lineno=False, **options)
    return out.getvalue()


def update(path: Path = CATALOG) -> list[str]:
    """Merge the current msgids into the catalog; returns the msgids that were dropped because no source uses them."""
    template = extract()
    if path.exists():
        catalog = load(path)
    else:
        catalog = Catalog(locale="id", project="Alur", version="0.1.0", header_comment=HEADER,
                          last_translator="Alur", language_team="Alur", fuzzy=False)
        catalog.mime_headers = [("Plural-Forms", PLURAL_FORMS)]
    catalog.update(template, update_creation_date=False)  # an unchanged catalog stays byte-for-byte the same
    dropped = [_text(m.id) for m in catalog.obsolete.values()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(catalog, ignore_obsolete=True))
    return dropped


def placeholders(text: str) -> set[str]:
    """The %-style (%(name)s, %%) and str.format ({name}) placeholders of a message."""
    found = set(PERCENT.findall(text))
    with contextlib.suppress(ValueError):  # unbalanced braces: not a str.format template
        found |= {"{" + name + "}" for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return found


def _text(msgid) -> str:
    return msgid[0] if isinstance(msgid, tuple | list) else msgid


def _problem(message: Message) -> str | None:
    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    if not all(strings):
        return "untranslated"
    if message.fuzzy:
        return "fuzzy"
    expected = set().union(*(placeholders(i) for i in ids))
    for translated in strings:
        if placeholders(translated) != expected:
            return f"placeholders {sorted(placeholders(translated))} != {sorted(expected)}"
    return None


def untranslated(template: Catalog, catalog: Catalog) -> list[str]:
    """Every msgid in the sources without a sound (translated, not fuzzy, same placeholders) Indonesian entry."""
    found = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id, message.context)
        problem = "missing from the catalog" if translated is None else _problem(translated)
        if problem:
            found.append(f"{problem}: {_text(message.id)!r}")
    return found


def leftovers(template: Catalog, catalog: Catalog) -> list[str]:
    """Catalog entries no source uses any more: they only mislead translators."""
    found = [f"stale (no source uses it): {_text(m.id)!r}"
             for m in catalog if m.id and template.get(m.id, m.context) is None]
    return found + [f"obsolete entry: {_text(m.id)!r}" for m in catalog.obsolete.values()]


def problems(template: Catalog, catalog: Catalog) -> list[str]:
    return untranslated(template, catalog) + leftovers(template, catalog)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("extract", "update", "check"))
    parser.add_argument("pot", nargs="?", type=Path, help="where `extract` writes the template")
    args = parser.parse_args(argv)
    if args.command == "extract":
        pot = args.pot or Path(tempfile.mkdtemp(prefix="alur-i18n-")) / "messages.pot"
        template = extract()
        with pot.open("wb") as out:
            write_po(out, template, width=100)
        print(f"{len(template)} msgids written to {pot}")
        return 0
    if args.command == "update":
        for msgid in update():
            print(f"dropped (no source uses it any more): {msgid!r}")
        print(f"updated {CATALOG.relative_to(ROOT)}; now translate what `check` lists")
        return 0
    found = problems(extract(), load())
    for line in found:
        print(line)
    print(f"{len(found)} problem(s) in {CATALOG.relative_to(ROOT)}", file=sys.stderr if found else sys.stdout)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
