"""The seed diagrams' DI reads as a clean swimlane flowchart: checked from the XML geometry alone."""

from itertools import combinations, pairwise

import pytest

from tests.diagrams.helpers import NS, SEED_FILES, local, parse

FLOW_NODES = {"startEvent", "endEvent", "userTask", "boundaryEvent", "exclusiveGateway"}


class Layout:
    def __init__(self, path):
        tree = parse(path)
        self.root = tree.getroot()
        (self.process,) = self.root.findall("bpmn:process", NS)
        self.nodes = {el.get("id"): el for el in self.process if local(el) in FLOW_NODES}
        self.flows = {el.get("id"): el for el in self.process if local(el) == "sequenceFlow"}
        self.lanes = self.process.findall("bpmn:laneSet/bpmn:lane", NS)
        refs = self.process.iter(f"{{{NS['bpmn']}}}flowNodeRef")
        self.lane_of = {ref.text: ref.getparent().get("id") for ref in refs}
        self.shapes, self.labels, self.edges, self.shape_el = {}, {}, {}, {}
        for shape in self.root.iter(f"{{{NS['bpmndi']}}}BPMNShape"):
            self.shape_el[shape.get("bpmnElement")] = shape
            self.shapes[shape.get("bpmnElement")] = box(shape.find("dc:Bounds", NS))
            label = shape.find("bpmndi:BPMNLabel/dc:Bounds", NS)
            if label is not None:
                self.labels[shape.get("bpmnElement")] = box(label)
        for edge in self.root.iter(f"{{{NS['bpmndi']}}}BPMNEdge"):
            self.edges[edge.get("bpmnElement")] = [(float(w.get("x")), float(w.get("y")))
                                                   for w in edge.findall("di:waypoint", NS)]
            label = edge.find("bpmndi:BPMNLabel/dc:Bounds", NS)
            if label is not None:
                self.labels[edge.get("bpmnElement")] = box(label)


def box(bounds):
    return tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))


def overlaps(a, b):
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def on_border(point, rect):
    x, y = point
    bx, by, bw, bh = rect
    on_vertical = x in (bx, bx + bw) and by <= y <= by + bh
    on_horizontal = y in (by, by + bh) and bx <= x <= bx + bw
    return on_vertical or on_horizontal


def segment_hits(p, q, rect, margin=0.0):
    """Whether the axis-parallel segment p-q passes through the interior of rect (shrunk by margin)."""
    x, y, w, h = rect[0] + margin, rect[1] + margin, rect[2] - 2 * margin, rect[3] - 2 * margin
    (x1, y1), (x2, y2) = p, q
    if y1 == y2:
        return y < y1 < y + h and min(x1, x2) < x + w and max(x1, x2) > x
    return x < x1 < x + w and min(y1, y2) < y + h and max(y1, y2) > y


@pytest.fixture(params=SEED_FILES, ids=lambda p: p.stem)
def layout(request):
    return Layout(request.param)


def test_every_element_has_di(layout):
    assert set(layout.nodes) <= set(layout.shapes)
    assert set(layout.flows) == set(layout.edges)
    (plane,) = layout.root.iter(f"{{{NS['bpmndi']}}}BPMNPlane")
    assert plane.get("bpmnElement") == layout.root.find("bpmn:collaboration", NS).get("id")


def test_pool_and_lanes_are_horizontal_and_stacked_in_column_order(layout):
    (participant,) = layout.root.iter(f"{{{NS['bpmn']}}}participant")
    pool = layout.shapes[participant.get("id")]
    assert layout.shape_el[participant.get("id")].get("isHorizontal") == "true"
    y = pool[1]
    for lane in layout.lanes:
        x, ly, w, h = layout.shapes[lane.get("id")]
        assert layout.shape_el[lane.get("id")].get("isHorizontal") == "true"
        assert (x, ly, x + w) == (pool[0] + 30, y, pool[0] + pool[2])
        y += h
    assert y == pool[1] + pool[3]


def test_every_node_and_its_label_lies_inside_its_lane(layout):
    for node_id in layout.nodes:
        lx, ly, lw, lh = layout.shapes[layout.lane_of[node_id]]
        for rect in filter(None, (layout.shapes[node_id], layout.labels.get(node_id))):
            x, y, w, h = rect
            assert lx + 30 <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, node_id


def test_named_events_gateways_and_flows_have_labels(layout):
    for el_id, el in list(layout.nodes.items()) + list(layout.flows.items()):
        if el.get("name") and local(el) != "userTask":
            assert el_id in layout.labels, el_id


def test_steps_run_left_to_right_in_step_order(layout):
    xs = [layout.shapes[t.get("id")][0] for t in layout.process.findall("bpmn:userTask", NS)]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_timers_sit_on_the_bottom_edge_with_the_breach_end_below_right(layout):
    for event in layout.process.findall("bpmn:boundaryEvent", NS):
        bx, by, bw, bh = layout.shapes[event.get("id")]
        tx, ty, tw, th = layout.shapes[event.get("attachedToRef")]
        assert by + bh / 2 == ty + th and tx < bx and bx + bw < tx + tw
        (flow,) = [f for f in layout.flows.values() if f.get("sourceRef") == event.get("id")]
        ex, ey, _, _ = layout.shapes[flow.get("targetRef")]
        assert ex > bx + bw and ey > by + bh


def test_flows_are_orthogonal_and_attach_to_shape_borders(layout):
    for flow_id, points in layout.edges.items():
        flow = layout.flows[flow_id]
        assert len(points) >= 2
        for (x1, y1), (x2, y2) in pairwise(points):
            assert x1 == x2 or y1 == y2, flow_id
        assert on_border(points[0], layout.shapes[flow.get("sourceRef")]), flow_id
        assert on_border(points[-1], layout.shapes[flow.get("targetRef")]), flow_id


def test_flows_go_around_shapes_not_through_them(layout):
    for flow_id, points in layout.edges.items():
        flow = layout.flows[flow_id]
        ends = {flow.get("sourceRef"), flow.get("targetRef")}
        for node_id in layout.nodes:
            if node_id in ends:
                continue
            for p, q in pairwise(points):
                assert not segment_hits(p, q, layout.shapes[node_id]), f"{flow_id} crosses {node_id}"


def test_labels_are_clear_of_shapes_flows_and_each_other(layout):
    shapes = {k: v for k, v in layout.shapes.items() if k in layout.nodes}
    for owner, label in layout.labels.items():
        for node_id, rect in shapes.items():
            assert not overlaps(label, rect), f"label of {owner} covers {node_id}"
        for flow_id, points in layout.edges.items():
            for p, q in pairwise(points):
                assert not segment_hits(p, q, label, margin=1), f"{flow_id} runs through the label of {owner}"
    for (a, ra), (b, rb) in combinations(layout.labels.items(), 2):
        assert not overlaps(ra, rb), f"labels of {a} and {b} overlap"
