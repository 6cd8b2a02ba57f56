"""Shared helpers for the diagram tests: the seed files, namespaces and a hardened XML parse."""

from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
BPMN_DIR = ROOT / "bpmn"
SEED_FILES = sorted(BPMN_DIR.glob("sop_*.bpmn"))

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}


def parse(path):
    """Parse a BPMN file without entities, DTDs or network access."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser)


def local(el):
    """Tag name without namespace."""
    return etree.QName(el).localname
