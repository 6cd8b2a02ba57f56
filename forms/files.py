"""Uploaded files: sniffing content types, checking uploads and making file names safe to store."""

from __future__ import annotations

import codecs
import re
import unicodedata

from .model import FILE_EMPTY, FILE_MISMATCH, FILE_TOO_LARGE, FILE_TYPE, NOT_A_FILE, Message, Upload

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
TXT = "text/plain"
CSV = "text/csv"

# content type -> (short name for messages, file name extensions); the order is the order messages list them in.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    PDF: ("PDF", (".pdf",)),
    PNG: ("PNG", (".png",)),
    JPEG: ("JPEG", (".jpg", ".jpeg")),
    DOCX: ("Word (.docx)", (".docx",)),
    XLSX: ("Excel (.xlsx)", (".xlsx",)),
    PPTX: ("PowerPoint (.pptx)", (".pptx",)),
    ODT: ("ODF text (.odt)", (".odt",)),
    ODS: ("ODF spreadsheet (.ods)", (".ods",)),
    TXT: ("text (.txt)", (".txt",)),
    CSV: ("CSV (.csv)", (".csv",)),
    GIF: ("GIF", (".gif",)),
}
EXTENSIONS = {ext: kind for kind, (_, exts) in KINDS.items() for ext in exts}

# What a government office sends as evidence: scans and photos (PDF, PNG, JPEG), office documents in both the
# Microsoft and the OpenDocument formats, and plain text/CSV exports. Presentations and GIFs are recognised but
# not accepted unless a caller allows them; legacy .doc/.xls (OLE) files cannot be sniffed reliably and are refused.
DEFAULT_ALLOWED = frozenset({PDF, PNG, JPEG, DOCX, XLSX, ODT, ODS, TXT, CSV})

_MAGIC = ((b"%PDF-", PDF), (b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG), (b"GIF87a", GIF), (b"GIF89a", GIF))
_ZIP_BASED = {".docx": DOCX, ".xlsx": XLSX, ".pptx": PPTX, ".odt": ODT, ".ods": ODS}
_TEXT_BASED = {".txt": TXT, ".csv": CSV}
# Names a browser or desktop would open as something executable or active, whatever the content is.
_RISKY = {".exe", ".com", ".bat", ".cmd", ".msi", ".scr", ".dll", ".ps1", ".vbs", ".js", ".jar", ".sh", ".php",
          ".html", ".htm", ".xhtml", ".svg", ".hta", ".lnk"}
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_MAX_NAME = 120


def _extension(filename: str) -> str:
    base = re.split(r"[/\\]", filename or "")[-1]
    stem, dot, ext = base.rpartition(".")
    return f".{ext.lower()}" if dot and stem.strip() else ""


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        # Not final: the head may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def sniff(head: bytes, filename: str) -> str | None:
    """The content type the first bytes of a file show, or None when it is not a recognised kind."""
    head = bytes(head) if isinstance(head, bytes | bytearray | memoryview) else b""
    ext = _extension(filename if isinstance(filename, str) else "")
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"PK\x03\x04"):
        return _ZIP_BASED.get(ext)
    if ext in _TEXT_BASED and _is_text(head):
        return _TEXT_BASED[ext]
    return None


def human_size(n: int) -> str:
    """A byte count in short words, e.g. 10 MB."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            value = int(n * 10 // size) / 10
            return f"{value:g} {unit}"
    return f"{n} bytes"


def kind_names(allowed) -> str:
    """The allowed content types in short words, in a stable order."""
    known = [name for kind, (name, _) in KINDS.items() if kind in allowed]
    return ", ".join(known + sorted(str(k) for k in allowed if k not in KINDS))


def check_upload(upload: Upload, *, max_bytes: int = DEFAULT_MAX_BYTES, allowed=DEFAULT_ALLOWED) -> Message | None:
    """What is wrong with an uploaded file, or None when it may be stored."""
    if not isinstance(upload, Upload) or not isinstance(upload.size, int):
        return Message(NOT_A_FILE, {})
    if upload.size <= 0:
        return Message(FILE_EMPTY, {})
    if upload.size > max_bytes:
        return Message(FILE_TOO_LARGE, {"limit": human_size(max_bytes)})
    filename = upload.filename if isinstance(upload.filename, str) else ""
    ext = _extension(filename)
    kind = sniff(upload.head, filename)
    if kind is None:
        # The browser's declared type is only a claim; it matters when the content cannot be identified.
        declared = upload.content_type.split(";")[0].strip().lower() if isinstance(upload.content_type, str) else ""
        claimed = EXTENSIONS.get(ext) or declared
        if claimed in allowed:
            return Message(FILE_MISMATCH, {})
        return Message(FILE_TYPE, {"kind": ext or declared or "unknown", "allowed": kind_names(allowed)})
    if kind not in allowed:
        return Message(FILE_TYPE, {"kind": KINDS[kind][0], "allowed": kind_names(allowed)})
    if ext in _RISKY or (ext in EXTENSIONS and EXTENSIONS[ext] != kind):
        return Message(FILE_MISMATCH, {})
    return None


def _keep(ch: str) -> str:
    category = unicodedata.category(ch)
    if category[0] in "LNM" or ch in " ._-()":
        return ch
    return "" if category[0] == "C" else "_"


def safe_filename(name) -> str:
    """A file name without path parts or odd characters, at most 120 characters, never empty."""
    if isinstance(name, bytes | bytearray):
        name = bytes(name).decode("utf-8", "replace")
    if not isinstance(name, str):
        return "lampiran"
    name = unicodedata.normalize("NFC", name)
    name = "".join(_keep(ch) for ch in re.split(r"[/\\]", name)[-1])
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > _MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            name = stem[: _MAX_NAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:_MAX_NAME].rstrip(" .")
    if name.partition(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return name or "lampiran"
