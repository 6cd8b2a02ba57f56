"""B1: one step through the engine (load, complete, save, rows, audit) vs the same step in plain SpiffWorkflow.

Same diagram, same run, same order of steps: a chain of user tasks, each with a non-interrupting boundary timer
(the SLA), alternating two lanes. Several cases advance round-robin so the task tree depth stays realistic; a case
that reaches its end is replaced by a fresh one.

  raw      BpmnWorkflow in memory on engine.runtime.SCRIPT_ENGINE: find the READY user task, run it,
           do_engine_steps; with SpiffWorkflow's own task-tree walk (taskwalk.library_walk), as plain
           SpiffWorkflow runs. Also shown: the same raw step on the faster walk the engine installs
           (engine/taskwalk.py), the part of the engine's gain that is SpiffWorkflow's own work done faster.
  engine   engine.services.complete(...) on an app built with adapters.bootstrap.build + upgrade_schema: lock and
           load the case, deserialize, complete, serialize, save, rewrite work-item and timer rows, audit, commit.
           Once on SQLite (file in a temp dir), once on PostgreSQL (throwaway schema).

Goal: engine / raw <= 3 (median per step).

    .venv/bin/python bench/bench_step.py            # 300 timed steps per run
    .venv/bin/python bench/bench_step.py --quick    # 60 timed steps, for a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, database, machine, print_table, summary, write_result  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from adapters import bootstrap  # noqa: E402
from adapters.sql import Office  # noqa: E402
from engine import diagrams, runtime, services, taskwalk  # noqa: E402
from engine.passwords import hash_password  # noqa: E402

KEY = "bench_chain"
LANES = ("Klien", "Duta")


# --- the diagram ------------------------------------------------------------------------------------------------------

def chain_diagram(steps: int) -> bytes:
    """A chain of `steps` user tasks, alternating two lanes, each with a non-interrupting PT3H boundary timer."""
    lanes = {lane: [] for lane in LANES}
    body = ['    <bpmn:startEvent id="start"/>']
    lanes[LANES[0]].append("start")
    previous = "start"
    for i in range(1, steps + 1):
        lane = LANES[(i - 1) % 2]
        task, sla, late = f"Step_{i:02d}", f"Sla_{i:02d}", f"Late_{i:02d}"
        lanes[lane] += [task, sla, late]
        body += [
            f'    <bpmn:sequenceFlow id="F_{i:02d}" sourceRef="{previous}" targetRef="{task}"/>',
            f'    <bpmn:userTask id="{task}" name="{i}. Langkah {i}"/>',
            f'    <bpmn:boundaryEvent id="{sla}" cancelActivity="false" attachedToRef="{task}">'
            '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT3H'
            '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>',
            f'    <bpmn:sequenceFlow id="FL_{i:02d}" sourceRef="{sla}" targetRef="{late}"/>',
            f'    <bpmn:endEvent id="{late}"/>',
        ]
        previous = task
    lanes[LANES[(steps - 1) % 2]].append("end")
    body += [f'    <bpmn:sequenceFlow id="F_end" sourceRef="{previous}" targetRef="end"/>',
             '    <bpmn:endEvent id="end"/>']
    lane_xml = "".join(
        f'<bpmn:lane id="Lane_{n}" name="{n}">' + "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in refs)
        + "</bpmn:lane>" for n, refs in lanes.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="http://alur.local/bench">\n'
        f'  <bpmn:process id="{KEY}" name="Benchmark chain" isExecutable="true">\n'
        f"    <bpmn:laneSet>{lane_xml}</bpmn:laneSet>\n" + "\n".join(body)
        + "\n  </bpmn:process>\n</bpmn:definitions>\n"
    ).encode()


# --- measurements -----------------------------------------------------------------------------------------------------

class RawRun:
    """Plain SpiffWorkflow in memory: the same round-robin over `cases` workflows, one step per call.

    `plain`: with SpiffWorkflow's own task-tree walk (the baseline of the goal); else with the faster walk the
    engine installs (engine/taskwalk.py), to show what that part of the engine's figure owes to it."""

    def __init__(self, spec, subprocess_specs, cases: int, plain: bool = True):
        self.spec, self.subprocess_specs, self.plain = spec, subprocess_specs, plain
        with self.walk():
            self.workflows = [self.fresh() for _ in range(cases)]
        self.samples, self.cpu, self.depths = [], [], []

    def walk(self):
        return taskwalk.library_walk() if self.plain else contextlib.nullcontext()

    def fresh(self):
        workflow = runtime.new_workflow(self.spec, self.subprocess_specs)
        workflow.do_engine_steps()
        return workflow

    def step(self, i: int, timed: bool) -> None:
        with self.walk():
            self._step(i, timed)

    def _step(self, i: int, timed: bool) -> None:
        slot = i % len(self.workflows)
        workflow = self.workflows[slot]
        started, cpu = time.perf_counter(), time.thread_time()
        [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
        task.data.update({"catatan": f"langkah {i}"})
        task.run()
        workflow.do_engine_steps()
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
        if timed:
            self.samples.append(elapsed)
            self.cpu.append(cpu)
            self.depths.append(max((t.depth for t in workflow.get_tasks(state=TaskState.READY)), default=0))
        if workflow.is_completed():
            self.workflows[slot] = self.fresh()

    def result(self) -> dict:
        return {**summary(self.samples), "max_tree_depth": max(self.depths),
                "cpu_median_ms": statistics.median(self.cpu) * 1000}


def build_app(url: str, data_dir: Path, roles):
    app = bootstrap.build({"ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(data_dir)})
    bootstrap.upgrade_schema(app)
    with app.uow() as uow:
        uow.directory.add_office(Office("B", "Kantor Bench", "Asia/Jakarta", "elapsed"))
        uow.directory.add_user("ana", hash_password("rahasia123"), "Ana", None, services.utcnow())
        for role in roles:
            uow.directory.grant("ana", role, "B")
        uow.commit()
    return app


def run_engine(app, diagram: bytes, key: str, cases: int, warmup: int, steps: int, raw: RawRun, raw_walk: RawRun,
               profiler=None, cold: bool = False) -> dict:
    """services.complete(...) per step: the whole transaction, as the web UI and the CLI call it.

    Each engine step follows one raw step (`raw`, and `raw_walk` on the engine's walk), so all see the same
    machine load. `cold` empties the process's workflow cache before every step: each step then deserializes
    its case, as when the previous step of the case ran in another process."""
    services.deploy(app.uow(), [("bench_chain.bpmn", diagram)], office="B")

    def fresh():
        return services.start(app.uow(), key, actor="ana", office="B").id

    def open_item(instance_id):
        with app.uow(write=False) as uow:
            [item] = uow.work_items.open_for_instance(instance_id)
            return item.id

    instances = [fresh() for _ in range(cases)]
    samples, cpu_samples, state_sizes = [], [], []
    for i in range(warmup + steps):
        slot = i % cases
        item_id = open_item(instances[slot])
        raw.step(i, i >= warmup)
        raw_walk.step(i, i >= warmup)
        if cold:
            app.uow.workflows.clear()
        if profiler and i >= warmup:
            profiler.start()
        started, cpu = time.perf_counter(), time.thread_time()
        instance = services.complete(app.uow(), item_id, actor="ana", data={"catatan": f"langkah {i}"})
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
        if profiler and i >= warmup:
            profiler.stop()
        if i >= warmup:
            samples.append(elapsed)
            cpu_samples.append(cpu)
            state_sizes.append(len(instance.state))
        if instance.status == "completed":
            instances[slot] = fresh()
    return {**summary(samples), "state_bytes_median": int(statistics.median(state_sizes)),
            "cpu_median_ms": statistics.median(cpu_samples) * 1000,
            "workflow_cache": {"hits": app.uow.workflows.hits, "misses": app.uow.workflows.misses}}


def serialization_share(spec, subprocess_specs, depth_steps: int, repeats: int = 50) -> dict:
    """What load (JSON -> workflow) and dump (workflow -> JSON) cost on a case `depth_steps` steps in."""
    workflow = runtime.new_workflow(spec, subprocess_specs)
    workflow.do_engine_steps()
    for _ in range(depth_steps):
        [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
        task.run()
        workflow.do_engine_steps()
    state = runtime.dump(workflow)
    load, dump = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        restored = runtime.load(state, spec, subprocess_specs)
        load.append(time.perf_counter() - started)
        started = time.perf_counter()
        runtime.dump(restored)
        dump.append(time.perf_counter() - started)
    return {"after_steps": depth_steps, "state_bytes": len(state), "load_median_ms": statistics.median(load) * 1000,
            "dump_median_ms": statistics.median(dump) * 1000}


# --- main -------------------------------------------------------------------------------------------------------------

def engine_run(backend: str, args, diagram: bytes, key: str, roles, warmup: int, steps: int, spec,
               subprocess_specs, cold: bool):
    """One engine run on a fresh database, with its own interleaved raw run; (results, version) or (None, why)."""
    with tempfile.TemporaryDirectory(prefix="alur-bench-") as tmp:
        url, drop, version = database(backend, tmp)
        if url is None:
            return None, f"postgresql skipped: {drop}"
        app = build_app(url, Path(tmp) / "data", roles)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
        raw = RawRun(spec, subprocess_specs, args.cases)
        raw_walk = RawRun(spec, subprocess_specs, args.cases, plain=False)
        try:
            result = run_engine(app, diagram, key, args.cases, warmup, steps, raw, raw_walk, profiler, cold)
        finally:
            app.engine.dispose()
            if drop:
                drop()
        result["raw"] = raw.result()
        result["raw_engine_walk"] = raw_walk.result()
        result["ratio_median"] = result["median_ms"] / result["raw"]["median_ms"]
        result["ratio_p95"] = result["p95_ms"] / result["raw"]["p95_ms"]
        # This process's CPU time alone: steadier than wall time on a busy machine, but blind to the database
        # server's own work (PostgreSQL runs in other processes), so only a cross-check of the wall-time ratio.
        result["cpu_ratio_median"] = result["cpu_median_ms"] / result["raw"]["cpu_median_ms"]
        if profiler:
            name = f"{backend}-cold" if cold else backend
            profile = Path(args.output).with_name(f"B1-profile-{name}.txt")
            profile.parent.mkdir(parents=True, exist_ok=True)
            profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
            print(f"  profile of the engine steps on {name}: {profile}")
        return result, version


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 timed steps instead of 300")
    parser.add_argument("--steps", type=int, help="timed steps per run (default 300, --quick 60)")
    parser.add_argument("--chain", type=int, default=30, help="user tasks in the generated diagram")
    parser.add_argument("--cases", type=int, default=10, help="cases advanced round-robin")
    parser.add_argument("--diagram", help="use this diagram instead of the generated chain (one process, "
                                          "a sequence of human steps without decisions)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-cold", action="store_true", help="skip the runs with the workflow cache emptied")
    parser.add_argument("--output", default=str(RESULTS / "B1.json"))
    parser.add_argument("--profile", action="store_true",
                        help="profile the engine steps with pyinstrument (pip install pyinstrument); "
                             "writes B1-profile-<run>.txt next to --output (timings are then inflated)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    steps = args.steps or (60 if args.quick else 300)
    warmup = max(10, steps // 10)
    diagram = Path(args.diagram).read_bytes() if args.diagram else chain_diagram(args.chain)
    report = diagrams.lint([("bench_chain.bpmn", diagram)])
    if not report.ok:
        print("\n".join(diagrams.problem_lines(report.problems)), file=sys.stderr)
        return 1
    info = report.processes[0]
    spec, subprocess_specs = report.specs[info.key]
    roles = sorted({name for _, name in info.lanes if name})

    print(f"B1: one step, {len(info.steps)}-step chain with SLA timers, {args.cases} cases round-robin, "
          f"{warmup} warm-up + {steps} timed steps per run, each engine step right after a raw step")
    results, pg_version, notes = {}, None, []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for cold in (False,) if args.no_cold else (False, True):
            name = f"{backend} (cold)" if cold else backend
            result, detail = engine_run(backend, args, diagram, info.key, roles, warmup, steps, spec,
                                        subprocess_specs, cold)
            if result is None:
                notes.append(detail)
                print(f"  {detail}")
                break
            results[name], pg_version = result, detail or pg_version
    share = serialization_share(spec, subprocess_specs, min(len(info.steps) - 1, 15))
    print_table(["engine run", "raw median ms", "engine median ms", "engine p95 ms", "ratio median", "ratio p95",
                 "cpu ratio", "goal <= 3", "raw on engine's walk"],
                [[name, r["raw"]["median_ms"], r["median_ms"], r["p95_ms"], r["ratio_median"], r["ratio_p95"],
                  r["cpu_ratio_median"], "met" if r["ratio_median"] <= 3 else "NOT met",
                  r["raw_engine_walk"]["median_ms"]]
                 for name, r in results.items()])
    print(f"\nraw max task-tree depth {max(r['raw']['max_tree_depth'] for r in results.values())}; "
          f"case state ~{share['state_bytes']} bytes after {share['after_steps']} steps: "
          f"load {share['load_median_ms']:.2f} ms, dump {share['dump_median_ms']:.2f} ms")
    verdicts = {name: r["ratio_median"] <= 3 for name, r in results.items() if "cold" not in name}
    for name, ok in verdicts.items():
        print(f"goal engine/raw <= 3 on {name}: {'met' if ok else 'NOT met'} ({results[name]['ratio_median']:.2f})")
    write_result("B1", {
        "parameters": {"chain_steps": len(info.steps), "cases": args.cases, "warmup": warmup, "timed_steps": steps,
                       "diagram": args.diagram or "generated chain, PT3H non-interrupting boundary timer per step"},
        "results": results, "serialization": share, "goal_ratio": 3, "goal_met": verdicts, "notes": notes,
        "machine": machine(pg_version),
    }, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
