"""Shared helpers for the diagram tests: the seed files, namespaces and a hardened XML parse."""

from pathlib import Path

from engine import xml

ROOT = Path(__file__).resolve().parents[2]
BPMN_DIR = ROOT / "bpmn"
SEED_FILES = sorted(BPMN_DIR.glob("sop_*.bpmn"))

NS = xml.NSMAP


def parse(path):
    """Parse a BPMN file without entities, DTDs or network access."""
    tree, problem = xml.parse(Path(path).read_bytes())
    assert problem is None, f"{path}: {problem}"
    return tree


def local(el):
    """Tag name without namespace."""
    return xml.local(el.tag)
