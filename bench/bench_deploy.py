"""B6: lint + deploy of a generated 100-step diagram, on SQLite and PostgreSQL.

The diagram is what the modeler saves for a large SOP: a pool with 4 lanes, 100 user tasks in sequence (each with
its documentation, its SOP columns as camunda:properties and a non-interrupting PT3H boundary timer, the standard
time), every 20th step followed by an exclusive decision whose "Tidak" flow goes back three steps (a rework loop),
and the BPMN diagram interchange (a shape per element, an edge per flow). The timers share one "SLA terlampaui" end
event, so the process stays under engine.limits.MAX_FLOW_NODES (it counts boundary events).

Timed, each on its own, with a changed note in the process documentation so every deploy stores a new version:

  lint     services.lint(files): parse, every check, SpiffWorkflow's spec, what Alur extracts (no database)
  check    services.check(uow, files): lint + offices + lanes nobody holds (what the web UI shows before deploying)
  deploy   services.deploy(uow, files): lint again, lock, store the new version, audit, commit (`alur deploy`)
  web      check + deploy, the admin's Deploy page from upload to stored version

Goal: lint + deploy <= 300 ms, the median of the `deploy` row (which lints) and of the `web` row (which lints twice);
the p95 is printed too (on a machine other processes load, it is mostly their noise).

    .venv/bin/python bench/bench_deploy.py            # 3 warm-up + 30 timed deploys per backend
    .venv/bin/python bench/bench_deploy.py --quick    # 2 warm-up + 8 timed deploys
    .venv/bin/python bench/bench_deploy.py --profile  # pyinstrument profile of lint + deploy on SQLite
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import database, machine, print_table, summary, write_result

from adapters import bootstrap
from adapters.sql import Office
from engine import limits, services, xml
from engine.passwords import hash_password

KEY = "bench_besar"
OFFICE = "B"
LANES = ("Pemohon", "Petugas Layanan", "Kasubag Layanan", "Kepala Kantor")
DECISION_EVERY, LOOP_BACK = 20, 3
HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
          'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
          'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
          'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_bench" '
          'targetNamespace="http://bpmn.io/schema/bpmn">\n')


def big_diagram(steps: int = 100, note: str = "") -> bytes:
    """The generated SOP (see the module docstring); `note` changes the bytes, not the process."""
    decisions = set(range(DECISION_EVERY, steps, DECISION_EVERY))
    merges = {n - LOOP_BACK + 1 for n in decisions}
    order = [("Mulai", 0)]  # (element id, lane index) along the main path
    for n in range(1, steps + 1):
        lane = (n - 1) % len(LANES)
        if n in merges:
            order.append((f"Gabung_{n}", lane))
        order.append((f"Langkah_{n}", lane))
        if n in decisions:
            order.append((f"Keputusan_{n}", lane))
    order.append(("Selesai", (steps - 1) % len(LANES)))
    lanes = {i: [] for i in range(len(LANES))}
    body, flows, shapes = ['    <bpmn:startEvent id="Mulai" name="Mulai"/>'], [], {}
    for x, (node, lane) in enumerate(order):
        lanes[lane].append(node)
        left, middle = 260 + x * 150, 245 + lane * 250
        kind, n = node.split("_")[0], node.split("_")[-1]
        if kind == "Langkah":
            shapes[node] = (left, middle - 40, 100, 80)
            shapes[f"SLA_{node}"] = (left + 62, middle + 22, 36, 36)
            lanes[lane].append(f"SLA_{node}")
            body += _task(int(n), LANES[lane])
            flows.append((f"Flow_SLA_{node}", f"SLA_{node}", "SLA_Terlampaui", None))
        elif kind in ("Gabung", "Keputusan"):
            shapes[node] = (left, middle - 25, 50, 50)
            name = f' name="Berkas tahap {n} lengkap?"' if kind == "Keputusan" else ""
            body.append(f'    <bpmn:exclusiveGateway id="{node}"{name}/>')
        else:
            shapes[node] = (left, middle - 18, 36, 36)
        if x:
            source = order[x - 1][0]
            flows.append((f"Flow_{source}_{node}", source, node, "Ya" if source.startswith("Keputusan") else None))
        if kind == "Keputusan":
            flows.append((f"Flow_{node}_Tidak", node, f"Gabung_{int(n) - LOOP_BACK + 1}", "Tidak"))
    body.append('    <bpmn:endEvent id="Selesai" name="Selesai"/>')
    body.append('    <bpmn:endEvent id="SLA_Terlampaui" name="SLA terlampaui"/>')
    lanes[len(LANES) - 1].append("SLA_Terlampaui")
    shapes["SLA_Terlampaui"] = (260 + len(order) * 150, 245 + (len(LANES) - 1) * 250 + 80, 36, 36)
    for fid, source, target, answer in flows:
        if answer:
            body.append(f'    <bpmn:sequenceFlow id="{fid}" name="{answer}" sourceRef="{source}" targetRef="{target}">'
                        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">keputusan == "{answer}"'
                        "</bpmn:conditionExpression></bpmn:sequenceFlow>")
        else:
            body.append(f'    <bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>')
    lane_xml = "\n".join(
        f'      <bpmn:lane id="Lane_{i}" name="{LANES[i]}">'
        + "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in refs) + "</bpmn:lane>"
        for i, refs in lanes.items())
    width = 300 + len(order) * 150
    di = [f'      <bpmndi:BPMNShape id="Pool_di" bpmnElement="Pool" isHorizontal="true">'
          f'<dc:Bounds x="160" y="120" width="{width}" height="{len(LANES) * 250}"/></bpmndi:BPMNShape>']
    di += [f'      <bpmndi:BPMNShape id="Lane_{i}_di" bpmnElement="Lane_{i}" isHorizontal="true">'
           f'<dc:Bounds x="190" y="{120 + i * 250}" width="{width - 30}" height="250"/></bpmndi:BPMNShape>'
           for i in range(len(LANES))]
    di += [f'      <bpmndi:BPMNShape id="{node}_di" bpmnElement="{node}">'
           f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/></bpmndi:BPMNShape>'
           for node, (x, y, w, h) in shapes.items()]
    for fid, source, target, _ in flows:
        (x1, y1, w1, h1), (x2, y2, _w2, h2) = shapes[source], shapes[target]
        di.append(f'      <bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}"><di:waypoint x="{x1 + w1}" '
                  f'y="{y1 + h1 // 2}"/><di:waypoint x="{x2}" y="{y2 + h2 // 2}"/></bpmndi:BPMNEdge>')
    return (HEADER + '  <bpmn:collaboration id="Collab"><bpmn:participant id="Pool" name="SOP Benchmark Besar" '
            f'processRef="{KEY}"/></bpmn:collaboration>\n'
            f'  <bpmn:process id="{KEY}" name="SOP Benchmark Besar" isExecutable="true">\n'
            f"    <bpmn:documentation>SOP buatan untuk benchmark B6. {note}</bpmn:documentation>\n"
            f"    <bpmn:laneSet id=\"LaneSet\">\n{lane_xml}\n    </bpmn:laneSet>\n" + "\n".join(body)
            + '\n  </bpmn:process>\n  <bpmndi:BPMNDiagram id="Diagram"><bpmndi:BPMNPlane id="Plane" '
            'bpmnElement="Collab">\n' + "\n".join(di) + "\n  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n"
            "</bpmn:definitions>\n").encode()


def _task(n: int, lane: str) -> list[str]:
    return [
        f'    <bpmn:userTask id="Langkah_{n}" name="{n}. Memeriksa dan meneruskan berkas tahap {n}">',
        f"      <bpmn:documentation>{lane} memeriksa kelengkapan berkas tahap {n}, mencatat hasilnya dan "
        "meneruskan berkas ke petugas berikutnya sesuai standar pelayanan</bpmn:documentation>",
        '      <bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="kelengkapan" value="Berkas permohonan, formulir, tanda terima"/>'
        f'<camunda:property name="output" value="Berkas tahap {n}"/>'
        '<camunda:property name="waktu" value="3 jam"/></camunda:properties></bpmn:extensionElements>',
        "    </bpmn:userTask>",
        f'    <bpmn:boundaryEvent id="SLA_Langkah_{n}" name="Waktu baku 3 jam" cancelActivity="false" '
        f'attachedToRef="Langkah_{n}"><bpmn:timerEventDefinition id="Timer_{n}"><bpmn:timeDuration '
        'xsi:type="bpmn:tFormalExpression">PT3H</bpmn:timeDuration></bpmn:timerEventDefinition>'
        "</bpmn:boundaryEvent>",
    ]


def build_app(url: str, data_dir: Path):
    app = bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(data_dir)})
    bootstrap.upgrade_schema(app)
    with app.uow() as uow:
        uow.directory.add_office(Office(OFFICE, "Kantor Bench", "Asia/Jakarta", "working"))
        uow.directory.add_user("penerap", hash_password("rahasia123"), "Penerap", None, services.utcnow())
        uow.directory.grant("penerap", "deployer", None)
        for lane in LANES:
            uow.directory.add_user(lane.lower().replace(" ", "-"), hash_password("rahasia123"), lane, None,
                                   services.utcnow())
            uow.directory.grant(lane.lower().replace(" ", "-"), lane, OFFICE)
        uow.commit()
    return app


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_backend(backend: str, steps: int, warmup: int, runs: int, profiler=None):
    """(results, PostgreSQL version) or (None, why it was skipped)."""
    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        url, drop, version = database(backend, tmp)
        if url is None:
            return None, f"postgresql skipped: {drop}"
        app = build_app(url, Path(tmp) / "data")
        samples = {"lint": [], "check": [], "deploy": [], "web": []}
        try:
            for i in range(warmup + runs):
                files = [("bench_besar.bpmn", big_diagram(steps, f"{backend} {i}a"))]
                lint = timed(lambda f=files: services.lint(f))
                check = timed(lambda f=files: services.check(app.uow(write=False), f))
                if profiler and i >= warmup:
                    profiler.start()
                deploy = timed(lambda f=files: services.deploy(app.uow(), f, actor="penerap", office=OFFICE))
                if profiler and i >= warmup:
                    profiler.stop()
                files = [("bench_besar.bpmn", big_diagram(steps, f"{backend} {i}b"))]
                web = timed(lambda f=files: (services.check(app.uow(write=False), f),
                                             services.deploy(app.uow(), f, actor="penerap", office=OFFICE)))
                if i >= warmup:
                    for name, value in (("lint", lint), ("check", check), ("deploy", deploy), ("web", web)):
                        samples[name].append(value)
            with app.uow(write=False) as uow:
                stored = uow.deployments.latest(KEY)
        finally:
            app.engine.dispose()
            if drop:
                drop()
        if stored.version != 2 * (warmup + runs) or len(stored.steps) != steps:
            raise SystemExit(f"expected {2 * (warmup + runs)} versions of {steps} steps, got version "
                             f"{stored.version} with {len(stored.steps)} steps")
        return {name: summary(values) for name, values in samples.items()}, version


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 timed deploys instead of 30")
    parser.add_argument("--runs", type=int, help="timed deploys per backend (default 30, --quick 8)")
    parser.add_argument("--steps", type=int, default=100, help="user tasks in the generated diagram")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--output", help="JSON file (default bench/results/B6.json)")
    parser.add_argument("--profile", action="store_true",
                        help="profile the deploys on the first backend with pyinstrument; writes "
                             "bench/results/B6-profile.txt (timings are then inflated)")
    parser.add_argument("--write-diagram", help="also save the generated diagram to this file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    runs = args.runs or (8 if args.quick else 30)
    warmup = 2 if args.quick else 3
    diagram = big_diagram(args.steps)
    if args.write_diagram:
        Path(args.write_diagram).write_bytes(diagram)
    report = services.lint([("bench_besar.bpmn", diagram)])
    if not report.ok:
        print("\n".join(services.diagrams.problem_lines(report.problems)), file=sys.stderr)
        return 1
    info = report.processes[0]
    tree, _ = xml.parse(diagram)
    nodes = sum(1 for n in tree.getroot().iter() if isinstance(n.tag, str) and n.tag.startswith(f"{{{xml.BPMN_NS}}}")
                and limits.is_flow_node(xml.local(n.tag)))
    print(f"B6: lint + deploy of a {len(info.steps)}-step diagram ({len(diagram) // 1024} KiB, {len(LANES)} lanes, "
          f"a PT3H timer per step, {nodes} of at most {limits.MAX_FLOW_NODES} flow nodes), {warmup} warm-up + "
          f"{runs} timed deploys per backend")
    results, notes, pg_version, profiler = {}, [], None, None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        result, detail = run_backend(backend, args.steps, warmup, runs, profiler)
        if profiler:
            out = Path(args.output or "bench/results/B6.json").with_name("B6-profile.txt")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(profiler.output_text(unicode=True, color=False))
            print(f"  profile of the deploys on {backend}: {out}")
            profiler = None
        if result is None:
            notes.append(detail)
            print(f"  {detail}")
            continue
        results[backend], pg_version = result, detail or pg_version
    rows = [[f"{name} on {backend}", r["median_ms"], r["p95_ms"], r["max_ms"]]
            for backend, by_name in results.items() for name, r in by_name.items()]
    print_table(["run", "median ms", "p95 ms", "max ms"], rows)
    verdicts = {}
    for backend, by_name in results.items():
        for name in ("deploy", "web"):
            ok = by_name[name]["median_ms"] <= 300
            verdicts[f"{name} on {backend}"] = ok
            print(f"goal lint + deploy <= 300 ms ({name} on {backend}, median): {'met' if ok else 'NOT met'} "
                  f"({by_name[name]['median_ms']:.0f} ms; p95 {by_name[name]['p95_ms']:.0f} ms)")
    write_result("B6", {
        "parameters": {"steps": len(info.steps), "flow_nodes": nodes, "lanes": list(LANES),
                       "decisions_every": DECISION_EVERY, "diagram_bytes": len(diagram), "warmup": warmup,
                       "runs": runs},
        "results": results, "goal_ms": 300, "goal_met": verdicts, "notes": notes, "machine": machine(pg_version),
        "load_average": os.getloadavg(),
    }, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
