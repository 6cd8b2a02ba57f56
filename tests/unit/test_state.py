"""engine/state.py: the fast dump writes exactly SpiffWorkflow's own serialization, and the workflow cache."""

from __future__ import annotations

import gc
import json
import weakref
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from SpiffWorkflow.util.task import TaskState

from engine import diagrams, runtime, state
from tests.conftest import FIXTURES, ROOT

DIAGRAMS = [
    *sorted(p.name for p in (ROOT / "bpmn").glob("sop_*.bpmn")),
    "decision_loop.bpmn", "parallel_review.bpmn", "two_steps_timer.bpmn", "call_main.bpmn",
]


def _files(name):
    if name.startswith("sop_"):
        return [(name, (ROOT / "bpmn" / name).read_bytes())]
    files = [(name, (FIXTURES / name).read_bytes())]
    if name == "call_main.bpmn":
        files.append(("call_sub.bpmn", (FIXTURES / "call_sub.bpmn").read_bytes()))
    return files


def _spiff_dump(workflow) -> dict:
    return json.loads(state.STATE.serialize_json(workflow))


def _walk(name, steps=40):
    """Yield a workflow of the diagram after each of up to `steps` changes: steps done, choices made, timers fired."""
    report = diagrams.lint(_files(name))
    assert report.ok, report.problems
    info = report.processes[0]
    spec, subprocess_specs = report.specs[info.key]
    decisions = {s.id: s.decision for s in info.steps if s.decision}
    now = datetime(2030, 1, 7, 8, tzinfo=UTC)
    workflow = runtime.new_workflow(spec, subprocess_specs, {"pemohon": "Ani"})
    runtime.advance(workflow, now, runtime.elapsed_due_time)
    yield workflow, spec, subprocess_specs
    taken = {}
    for turn in range(steps):
        now += timedelta(minutes=7)
        waiting = [t for t in workflow.get_tasks(state=TaskState.WAITING) if "event_value" in t.internal_data]
        ready = runtime.ready_human_tasks(workflow)
        if waiting and turn % 3 == 2:
            runtime.fire_timer(workflow, str(waiting[0].id), now, runtime.elapsed_due_time)
        elif ready:
            task = ready[turn % len(ready)]
            decision = decisions.get(task.task_spec.bpmn_id)
            data = {"catatan": f"langkah {turn}", "jumlah": turn, "setuju": turn % 2 == 0, "daftar": [turn, "x"]}
            if decision:  # each choice in turn, the second first (often the rework), so loops are taken and left
                taken[task.task_spec.bpmn_id] = taken.get(task.task_spec.bpmn_id, 0) + 1
                data[decision.variable] = decision.choices[taken[task.task_spec.bpmn_id] % len(decision.choices)]
            runtime.complete(workflow, str(task.id), data, now, runtime.elapsed_due_time)
        else:
            return
        yield workflow, spec, subprocess_specs


@pytest.mark.parametrize("name", DIAGRAMS)
def test_the_fast_dump_writes_what_spiffworkflow_writes_at_every_step(name):
    changes = 0
    for workflow, spec, subprocess_specs in _walk(name):
        ours = state.dump(workflow)
        assert json.loads(ours) == _spiff_dump(workflow)
        restored = runtime.load(ours, spec, subprocess_specs)
        assert json.loads(state.dump(restored)) == json.loads(ours)  # and it loads back to the same state
        changes += 1
    assert changes >= 3


@pytest.mark.parametrize("name", DIAGRAMS)
def test_the_fast_walk_finds_the_live_tasks_get_tasks_finds_in_its_order_at_every_step(name):
    live = TaskState.READY | TaskState.WAITING
    seen = 0
    for workflow, _, _ in _walk(name):
        ours = runtime._live_tasks(workflow)  # noqa: SLF001
        assert [t.id for t in ours] == [t.id for t in workflow.get_tasks(state=live)]
        seen += len(ours)
    assert seen >= 3


def test_a_finished_task_is_encoded_again_when_it_changes_state():
    [(workflow, _, _), *_] = list(_walk("decision_loop.bpmn", steps=0))
    state.dump(workflow)
    finished = next(t for t in workflow.tasks.values() if t.has_state(TaskState.COMPLETED))
    finished._state = TaskState.CANCELLED  # noqa: SLF001 - as a reset would move it
    finished.last_state_change += 1
    assert json.loads(state.dump(workflow)) == _spiff_dump(workflow)


def test_a_predicted_task_is_encoded_again_when_what_it_is_made_of_changes():
    *_, (workflow, _, _) = _walk("decision_loop.bpmn", steps=2)
    state.dump(workflow)
    predicted = [t for t in workflow.tasks.values()
                 if t.state in (TaskState.FUTURE, TaskState.LIKELY, TaskState.MAYBE) and t.parent is not None]
    assert predicted
    task = predicted[0]
    task.parent.data["baru"] = 1  # its delta lists the parent's names as deletions
    assert json.loads(state.dump(workflow)) == _spiff_dump(workflow)
    task.triggered = not task.triggered
    assert json.loads(state.dump(workflow)) == _spiff_dump(workflow)
    task.data["isi"] = "x"  # a task with data of its own is not kept
    assert json.loads(state.dump(workflow)) == _spiff_dump(workflow)


def test_the_kept_json_holds_only_the_tasks_the_workflow_still_has():
    for workflow, _, _ in _walk("decision_loop.bpmn"):
        state.dump(workflow)
        kept = workflow.__dict__["_alur_task_json"]
        assert set(kept) <= {str(uid) for uid in workflow.tasks}


def test_a_workflow_saved_by_spiffworkflow_loads_and_goes_on():
    *_, (workflow, spec, subprocess_specs) = _walk("decision_loop.bpmn", steps=3)
    restored = runtime.load(state.STATE.serialize_json(workflow), spec, subprocess_specs)
    assert [t.task_spec.bpmn_id for t in runtime.ready_human_tasks(restored)] == \
        [t.task_spec.bpmn_id for t in runtime.ready_human_tasks(workflow)]


def test_values_json_has_no_native_type_for_are_written_as_spiffworkflow_writes_them():
    workflow, *_ = next(_walk("two_steps_timer.bpmn"))
    moment = datetime(2030, 1, 1, 9, tzinfo=UTC)
    workflow.task_tree.data.update({"kapan": moment, "lama": timedelta(days=2, seconds=5), "besar": 2 ** 70,
                                    "tags": {"a"}})
    assert json.loads(state.dump(workflow)) == _spiff_dump(workflow)
    restored = runtime.load(state.dump(workflow), workflow.spec, workflow.subprocess_specs)
    assert restored.task_tree.data["kapan"] == moment
    assert restored.task_tree.data["lama"] == timedelta(days=2, seconds=5)
    assert restored.task_tree.data["besar"] == 2 ** 70


def test_the_cache_gives_a_workflow_back_once_and_only_for_the_version_it_was_saved_at():
    cache = state.WorkflowCache(size=2)
    first, second, third = object(), object(), object()
    cache.put(1, 5, 10, first)
    assert cache.take(1, 4, 10) is None  # someone saved the case since (another process, an admin)
    assert cache.take(1, 5, 10) is None  # a miss removes the entry: it can only be stale
    cache.put(1, 5, 10, first)
    assert cache.take(1, 5, 11) is None  # the case moved to another version
    cache.put(1, 5, 10, first)
    assert cache.take(1, 5, 10) is first
    assert cache.take(1, 5, 10) is None  # taken: the caller owns it until it puts it back after its commit
    cache.put(1, 6, 10, first)
    cache.put(2, 1, 10, second)
    cache.put(3, 1, 10, third)  # bounded: the least recently used goes
    assert len(cache) == 2 and cache.take(1, 6, 10) is None and cache.take(3, 1, 10) is third




@pytest.fixture
def no_cyclic_gc():
    """Only reference counting frees objects while the test runs."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def _freed_by_reference_counting(workflow) -> list:
    """Weak references to a workflow, its tasks and its called processes' workflows."""
    objects = [workflow, *workflow.tasks.values()]
    for sub in workflow.subprocesses.values():
        objects += [sub, *sub.tasks.values()]
    return [weakref.ref(o) for o in objects]


def _stepped(name, count):
    """`count` workflows of the diagram, one step done each, with their rows remembered (tasks held from outside)."""
    found = []
    for _ in range(count):
        walk = _walk(name)
        next(walk)
        workflow = next(walk)[0]
        walk.close()  # its frame holds the workflow too
        runtime.remember_rows(workflow, runtime.rows_view(workflow))
        found.append(workflow)
    return found


@pytest.mark.parametrize("name", ["two_steps_timer.bpmn", "call_main.bpmn"])
def test_a_workflow_the_cache_drops_is_freed_at_once_without_the_cyclic_collector(name, no_cyclic_gc):
    """Pushed out by newer ones, replaced, stale at take, or cleared: each goes by reference counting. A workflow
    given back by take is whole."""
    cache = state.WorkflowCache(size=2)
    refs = []
    for number, workflow in enumerate(_stepped(name, 4)):
        refs.append(_freed_by_reference_counting(workflow))
        cache.put(number, 1, 10, workflow)
    fresh = _stepped(name, 1)[0]
    kept, fresh_refs = state.dump(fresh), _freed_by_reference_counting(fresh)
    cache.put(3, 2, 10, fresh)  # case 3's entry replaced after its next step
    del workflow, fresh
    assert [r for rs in refs[:2] + refs[3:] for r in rs if r() is not None] == [], "pushed out or replaced"
    assert all(r() is not None for r in refs[2])  # still cached
    taken = cache.take(3, 2, 10)
    assert taken is fresh_refs[0]() and state.dump(taken) == kept  # whole, and goes on
    cache.put(3, 2, 10, taken)
    cache.put(5, 1, 10, object())  # whatever the cache was given
    del taken
    assert cache.take(3, 7, 10) is None  # stale: someone saved the case elsewhere
    assert [r for r in fresh_refs if r() is not None] == [], "stale"
    cache.put(3, 2, 10, _stepped(name, 1)[0])
    cleared = _freed_by_reference_counting(cache.take(3, 2, 10))
    cache.put(3, 2, 10, cleared[0]())
    cache.clear()
    assert [r for r in cleared if r() is not None] == [], "cleared"


def test_a_unit_of_work_is_freed_when_its_user_lets_go(tmp_path, no_cyclic_gc):
    from adapters import sql

    engine = sql.make_engine(f"sqlite:///{tmp_path / 'alur.db'}")
    uow = sql.SqlUnitOfWork(engine)
    with uow:
        assert uow.audit.defer.__self__ is uow  # the repositories hold the unit of work's own methods
    ref = weakref.ref(uow)
    del uow
    assert ref() is None
    engine.dispose()


@pytest.mark.parametrize("name", DIAGRAMS)
def test_the_fast_load_restores_what_spiffworkflow_restores_at_every_step(name, monkeypatch):
    converter = state._REGISTRY.convert_from_dict[state._WORKFLOW_TYPENAME].args[0].__self__
    for workflow, spec, subprocess_specs in _walk(name):
        saved = state.dump(workflow)
        ours = runtime.load(saved, spec, subprocess_specs)
        with monkeypatch.context() as patched:  # SpiffWorkflow's own restoring of the task mapping
            patched.setattr(state, "_tasks_from_dict",
                            lambda tasks, wf: converter.mapping_from_dict(tasks, UUID, workflow=wf))
            theirs = runtime.load(saved, spec, subprocess_specs)
        assert list(ours.tasks) == list(theirs.tasks)
        for task_id, task in ours.tasks.items():
            other = theirs.tasks[task_id]
            assert (task.state, task.data, task.internal_data, task.last_state_change, task.triggered,
                    task._parent, task._children, task.task_spec) == \
                   (other.state, other.data, other.internal_data, other.last_state_change, other.triggered,
                    other._parent, other._children, other.task_spec)
        assert list(ours.event_manager.tasks) == list(theirs.event_manager.tasks)  # the waiting catch events
        assert json.loads(state.dump(ours)) == json.loads(saved)
