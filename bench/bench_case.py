"""B2: a whole case of SOP 003 (Pengaduan Masyarakat, 14 steps) through the engine, on SQLite and PostgreSQL.

The seed SOPs are deployed and the demo accounts made as `alur demo` does (adapters.demo.seed), on an app built with
adapters.bootstrap.build + upgrade_schema. One case is:

  services.start(...)              as the start lane's demo account, in the SOP's office (BABEL)
  services.complete(...) x 14      each ready work item as its lane's demo account, with the data its form takes:
                                   every "Kelengkapan" item ticked, a note, and the first choice of any decision
                                   (SOP 003 has none; its outputs are optional files, left out)

Timed: only the start and complete calls (each its own transaction); finding the next ready item is not. For
context the same case also runs in plain SpiffWorkflow in memory (same spec, same data, no database; with
SpiffWorkflow's own task-tree walk, not the faster one the engine installs, engine/taskwalk.py).

No goal: the benchmark reports ms per case and per step (median and p95).

    .venv/bin/python bench/bench_case.py            # 5 warm-up + 40 timed cases per backend
    .venv/bin/python bench/bench_case.py --quick    # 2 warm-up + 8 timed cases
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, database, machine, print_table, summary, write_result
from SpiffWorkflow.util.task import TaskState

import forms
from adapters import bootstrap, demo
from engine import runtime, services, taskwalk

KEY = "sop_003_pengaduan_masyarakat"
DIAGRAM = ROOT / "bpmn" / f"{KEY}.bpmn"


def form_data(step) -> dict:
    """What an official would enter on the step's form: every checklist item ticked, a note, a decision."""
    spec = forms.form_for_step(step.to_dict()) if step else forms.FormSpec((), True)
    data = {}
    for field in spec.fields:
        if field.type == "checklist":
            data[field.name] = [value for value, _ in field.choices]
        elif field.type == "enum" and field.choices:
            data[field.name] = field.choices[0][0]
        elif field.type in ("text", "string"):
            data[field.name] = f"Dikerjakan: {step.name if step else ''}"[:200]
        elif field.type == "long":
            data[field.name] = "1"
        elif field.type == "boolean":
            data[field.name] = "true"
        elif field.type == "date":
            data[field.name] = "2027-01-04"
    return data


def run_case(app, deployment, office: str, data_of: dict) -> tuple[float, float, list[float]]:
    """One whole case; returns (seconds for the case, seconds for the start, seconds per step)."""
    starter = demo.demo_username(deployment.start_lanes[0], office)
    started = time.perf_counter()
    instance = services.start(app.uow(), KEY, actor=starter, office=office)
    start = total = time.perf_counter() - started
    per_step = []
    for _ in range(200):
        with app.uow(write=False) as uow:
            ready = uow.work_items.open_for_instance(instance.id)
        if not ready:
            break
        for item in ready:
            user = demo.demo_username(item.lane, office)
            started = time.perf_counter()
            instance = services.complete(app.uow(), item.id, actor=user, data=data_of[item.step_id])
            elapsed = time.perf_counter() - started
            total += elapsed
            per_step.append(elapsed)
    if instance.status != "completed":
        raise SystemExit(f"the case ended {instance.status}, not completed")
    return total, start, per_step


def run_engine(backend: str, cases: int, warmup: int):
    """Deploy the seed SOPs on a fresh database and run whole SOP 003 cases; (result, pg version) or (None, why)."""
    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        url, drop, version = database(backend, tmp)
        if url is None:
            return None, f"postgresql skipped: {drop}"
        app = bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(Path(tmp) / "data")})
        try:
            bootstrap.upgrade_schema(app)
            demo.seed(app, [DIAGRAM])
            with app.uow(write=False) as uow:
                deployment = uow.deployments.latest(KEY)
            office = deployment.office or demo.TEMPLATE_OFFICE
            data_of = {s.id: form_data(s) for s in deployment.steps}
            case_times, start_times, step_times = [], [], []
            for i in range(warmup + cases):
                total, start, per_step = run_case(app, deployment, office, data_of)
                if i >= warmup:
                    case_times.append(total)
                    start_times.append(start)
                    step_times.extend(per_step)
        finally:
            app.engine.dispose()
            if drop:
                drop()
        return {"steps_per_case": len(per_step), "case": summary(case_times), "start": summary(start_times),
                "step": summary(step_times)}, version


def run_raw(cases: int, warmup: int) -> dict:
    """The same case in plain SpiffWorkflow in memory: the floor the engine's figures compare to."""
    with taskwalk.library_walk():
        return _run_raw(cases, warmup)


def _run_raw(cases: int, warmup: int) -> dict:
    from engine import diagrams

    report = diagrams.lint([(str(DIAGRAM), DIAGRAM.read_bytes())])
    spec, subprocess_specs = report.specs[KEY]
    steps = {s.id: s for s in report.processes[0].steps}
    case_times, start_times, step_times, count = [], [], [], 0
    for i in range(warmup + cases):
        started = time.perf_counter()
        workflow = runtime.new_workflow(spec, subprocess_specs)
        workflow.do_engine_steps()
        start = time.perf_counter() - started
        total, per_step = start, []
        while tasks := workflow.get_tasks(state=TaskState.READY, manual=True):
            for task in tasks:
                began = time.perf_counter()
                task.data.update(form_data(steps.get(task.task_spec.name)))
                task.run()
                workflow.do_engine_steps()
                per_step.append(time.perf_counter() - began)
        total += sum(per_step)
        count = len(per_step)
        if i >= warmup:
            case_times.append(total)
            start_times.append(start)
            step_times.extend(per_step)
    return {"steps_per_case": count, "case": summary(case_times), "start": summary(start_times),
            "step": summary(step_times)}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 timed cases instead of 40")
    parser.add_argument("--cases", type=int, help="timed cases per backend (default 40, --quick 8)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--output", help="JSON file (default bench/results/B2.json)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cases = args.cases or (8 if args.quick else 40)
    warmup = 2 if args.quick else 5
    print(f"B2: whole cases of {KEY}, {warmup} warm-up + {cases} timed cases per run")
    results, notes, pg_version = {"raw": run_raw(cases, warmup)}, [], None
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        result, detail = run_engine(backend, cases, warmup)
        if result is None:
            notes.append(detail)
            print(f"  {detail}")
            continue
        results[backend], pg_version = result, detail or pg_version
    rows = []
    for name, r in results.items():
        label = "raw SpiffWorkflow" if name == "raw" else f"engine on {name}"
        rows.append([label, r["steps_per_case"], r["case"]["median_ms"], r["case"]["p95_ms"],
                     r["start"]["median_ms"], r["step"]["median_ms"], r["step"]["p95_ms"]])
    print_table(["run", "steps", "case median ms", "case p95 ms", "start median ms", "step median ms",
                 "step p95 ms"], rows)
    print("goal: none (report only)")
    write_result("B2", {
        "parameters": {"sop": KEY, "cases": cases, "warmup": warmup,
                       "timed": "services.start + services.complete per ready step; lookups not timed"},
        "results": results, "notes": notes, "machine": machine(pg_version), "load_average": os.getloadavg(),
    }, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
