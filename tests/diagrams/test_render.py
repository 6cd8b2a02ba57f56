"""bpmn-js (what bpmn.io and Camunda Modeler are built on) opens every seed diagram cleanly and keeps it on save."""

import importlib.util
import sys
from itertools import combinations
from pathlib import Path

import pytest
from lxml import etree

from tests.diagrams.helpers import NS, ROOT, SEED_FILES, local, parse

pytestmark = pytest.mark.browser

_spec = importlib.util.spec_from_file_location("alur_render", ROOT / "tools" / "render" / "render.py")
render = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)

FLOW_NODES = {"startEvent", "endEvent", "userTask", "boundaryEvent", "exclusiveGateway"}
NAMES = [p.name for p in SEED_FILES]


@pytest.fixture(scope="module")
def renderings():
    return {Path(r.path).name: r for r in render.render(SEED_FILES)}


@pytest.fixture(scope="module")
def saved_after_edit():
    """Each file as the bpmn-js modeler saves it after the analyst nudged step 1."""
    saved = render.round_trip(SEED_FILES, nudge="Langkah_1")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return {Path(path).name: etree.fromstring(xml.encode("utf-8"), parser) for path, xml in saved.items()}


def semantic_ids(tree):
    (process,) = tree.getroot().findall("bpmn:process", NS)
    ids = {el.get("id") for el in process if local(el) in FLOW_NODES | {"sequenceFlow"}}
    ids |= {lane.get("id") for lane in process.iter(f"{{{NS['bpmn']}}}lane")}
    ids |= {p.get("id") for p in tree.getroot().iter(f"{{{NS['bpmn']}}}participant")}
    return ids


@pytest.mark.parametrize("name", NAMES)
def test_bpmn_js_imports_without_warnings(renderings, name):
    result = renderings[name]
    assert result.error is None
    assert result.warnings == []


@pytest.mark.parametrize("name", NAMES)
def test_every_flow_node_and_flow_is_drawn(renderings, name):
    missing = semantic_ids(parse(ROOT / "bpmn" / name)) - set(renderings[name].rendered)
    assert not missing


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_no_two_shapes_overlap(path):
    tree = parse(path)
    (process,) = tree.getroot().findall("bpmn:process", NS)
    kinds = {el.get("id"): el for el in process if local(el) in FLOW_NODES}
    boxes = {}
    for shape in tree.getroot().iter(f"{{{NS['bpmndi']}}}BPMNShape"):
        if shape.get("bpmnElement") in kinds:
            b = shape.find("dc:Bounds", NS)
            boxes[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    assert set(boxes) == set(kinds)
    for a, b in combinations(sorted(boxes), 2):
        if b == kinds[a].get("attachedToRef") or a == kinds[b].get("attachedToRef"):
            continue  # a boundary event sits on its task's edge by definition
        (ax, ay, aw, ah), (bx, by, bw, bh) = boxes[a], boxes[b]
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, f"{a} overlaps {b}"


def lanes_of(root):
    return {ref.text: ref.getparent().get("name") for ref in root.iter(f"{{{NS['bpmn']}}}flowNodeRef")}


def properties_of(root):
    path = "bpmn:extensionElements/camunda:properties/camunda:property"
    return {el.get("id"): {p.get("name"): p.get("value") for p in el.findall(path, NS)}
            for el in root.iter() if el.get("id") and local(el) in ("process", "userTask")}


def executable_bits(root):
    bits = {}
    for el in root.iter(f"{{{NS['bpmn']}}}boundaryEvent"):
        bits[el.get("id")] = (el.get("attachedToRef"), el.get("cancelActivity"), el.findtext(".//bpmn:timeDuration",
                                                                                               namespaces=NS))
    for el in root.iter(f"{{{NS['bpmn']}}}sequenceFlow"):
        bits[el.get("id")] = (el.get("sourceRef"), el.get("targetRef"), el.get("name"),
                              el.findtext("bpmn:conditionExpression", namespaces=NS))
    for el in root.iter(f"{{{NS['bpmn']}}}escalationEventDefinition"):
        bits[el.getparent().get("id")] = el.get("escalationRef")
    return bits


@pytest.mark.parametrize("name", NAMES)
def test_an_edit_in_the_modeler_keeps_lanes_properties_timers_and_conditions(saved_after_edit, name):
    before, after = parse(ROOT / "bpmn" / name).getroot(), saved_after_edit[name]
    assert lanes_of(after) == lanes_of(before)
    assert properties_of(after) == properties_of(before)
    assert executable_bits(after) == executable_bits(before)
    assert after.find("bpmn:process", NS).get("isExecutable") == "true"
