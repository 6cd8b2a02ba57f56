"""Hardened XML parsing for uploaded diagrams: no DTD, no entities, no network, bounded size."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

MAX_BYTES = 10 * 1024 * 1024

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NSMAP = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "xsi": XSI_NS, "camunda": CAMUNDA_NS,
         "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}


@dataclass(frozen=True)
class XmlProblem:
    """Why a document could not be parsed, and on which line."""

    message: str
    line: int | None = None


def _parser() -> etree.XMLParser:
    # A fresh parser each time: lxml's default parser is process-global and resolves entities in lxml < 5.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


def parse(data: bytes) -> tuple[etree._ElementTree | None, XmlProblem | None]:
    """Parse untrusted XML bytes; return the tree, or a problem saying why it was refused."""
    if len(data) > MAX_BYTES:
        return None, XmlProblem(
            f"the file is {len(data) / 1048576:.1f} MB; diagrams larger than {MAX_BYTES // 1048576} MB are refused"
        )
    if not data.strip():
        return None, XmlProblem("the file is empty")
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()  # editors on Windows write a byte-order mark
    declaration = _line_of(data, b"<!DOCTYPE") or _line_of(data, b"<!ENTITY")
    if declaration:
        return None, XmlProblem("DOCTYPE and entity declarations are not allowed in a diagram", declaration)
    if not head.startswith(b"<"):
        return None, XmlProblem("the file is not XML (it does not start with '<')", 1)
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as err:
        line = err.lineno if err.lineno else None
        # libxml2's message may span lines and repeat the position ("...range\n, line 15, column 76").
        reason = re.sub(r",? line \d+, column \d+$", "", " ".join(str(err.msg or "").split())).rstrip(" ,.")
        return None, XmlProblem(f"the file is not well-formed XML: {reason or 'no reason given'}", line)
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        return None, XmlProblem("DOCTYPE and entity declarations are not allowed in a diagram", 1)
    return tree, None


def _line_of(data: bytes, needle: bytes) -> int | None:
    # Searching the whole upload is cheap next to parsing it, and a DOCTYPE may hide behind a long comment.
    pos = data.upper().find(needle)
    return data.count(b"\n", 0, pos) + 1 if pos >= 0 else None


def local(tag) -> str:
    """The local name of an element tag ('' for comments and processing instructions)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def bpmn(tag: str) -> str:
    """The Clark name of a BPMN model tag."""
    return f"{{{BPMN_NS}}}{tag}"
