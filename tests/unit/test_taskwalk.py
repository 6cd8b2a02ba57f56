"""engine/taskwalk.py: the faster task-tree walk finds what SpiffWorkflow's own walk finds, in the same order."""

from __future__ import annotations

import logging

import pytest
import SpiffWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

from engine import runtime, state, taskwalk
from tests.unit.test_state import DIAGRAMS, _walk

STATES = [TaskState.ANY_MASK, TaskState.NOT_FINISHED_MASK, TaskState.FINISHED_MASK, TaskState.PREDICTED_MASK,
          TaskState.DEFINITE_MASK, TaskState.MAYBE, TaskState.LIKELY, TaskState.FUTURE, TaskState.WAITING,
          TaskState.READY, TaskState.STARTED, TaskState.COMPLETED, TaskState.CANCELLED,
          TaskState.READY | TaskState.WAITING]


class EveryOther(TaskFilter):
    """A filter of its own class: the walk must ask it, not read its fields."""

    def matches(self, task):
        return task.id.int % 2 == 0


def _queries(workflow):
    """(label, first task or None, keyword arguments of get_tasks) covering every way the library filters and
    bounds a walk, with values taken from this workflow."""
    tasks = list(workflow.tasks.values())
    for subprocess in workflow.subprocesses.values():
        tasks += list(subprocess.tasks.values())
    names = sorted({t.task_spec.name for t in tasks})
    lanes = sorted({t.task_spec.lane for t in tasks if t.task_spec.lane})
    stamps = sorted(t.last_state_change for t in tasks)
    middle = sorted(tasks, key=lambda t: t.depth)[len(tasks) // 2]
    yield from ((f"state {s}", None, {"state": s}) for s in STATES)
    yield from ((f"manual {m}", None, {"state": TaskState.READY, "manual": m}) for m in (True, False))
    yield from ((f"manual {m}, any", None, {"manual": m}) for m in (True, False))
    yield from ((f"spec {n}", None, {"spec_name": n}) for n in names[::3])
    yield from ((f"end at {n}", None, {"end_at_spec": n}) for n in names[1::4])
    yield from ((f"end at {n}, unfinished", None, {"end_at_spec": n, "state": TaskState.NOT_FINISHED_MASK})
                for n in names[2::5])
    yield from ((f"lane {lane}", None, {"lane": lane}) for lane in lanes)
    yield from ((f"lane {lane}, ready", None, {"lane": lane, "state": TaskState.READY}) for lane in lanes)
    yield "user tasks", None, {"spec_class": UserTask}
    yield "catching events", None, {"spec_class": CatchingEvent, "state": TaskState.NOT_FINISHED_MASK}
    yield from ((f"max depth {d}", None, {"max_depth": d}) for d in (0, 1, 2, 5, 9))
    yield from ((f"max depth {d}, waiting", None, {"max_depth": d, "state": TaskState.WAITING}) for d in (3, 7))
    yield "changed lately", None, {"updated_ts": stamps[len(stamps) // 2]}
    catchers = {t.task_spec.name: t.task_spec.event_definition for t in tasks if isinstance(t.task_spec, CatchingEvent)}
    yield from ((f"catches {n}'s event", None, {"catches_event": BpmnEvent(d)}) for n, d in sorted(catchers.items()))
    yield "skip called processes", None, {"skip_subprocesses": True}
    yield "skip called processes, unfinished", None, {"skip_subprocesses": True, "state": TaskState.NOT_FINISHED_MASK}
    yield "breadth first", None, {"depth_first": False}
    yield "breadth first, ready", None, {"depth_first": False, "state": TaskState.READY}
    yield "filter of its own", None, {"task_filter": EveryOther()}
    yield "a bpmn filter object", None, {"task_filter": BpmnTaskFilter(state=TaskState.WAITING)}
    yield "from the middle", middle, {}
    yield "from the middle, unfinished", middle, {"state": TaskState.NOT_FINISHED_MASK}


def _ids(workflow, first, kwargs):
    return [t.id for t in workflow.get_tasks(first, **kwargs)]


def test_it_is_installed_on_the_pinned_release():
    assert SpiffWorkflow.__version__ == taskwalk.WRITTEN_FOR  # pyproject.toml pins it; review taskwalk on a bump
    assert taskwalk.installed()
    with taskwalk.library_walk():
        assert not taskwalk.installed()
    assert taskwalk.installed()


@pytest.mark.parametrize("name", DIAGRAMS)
def test_every_query_finds_what_spiffworkflow_finds_in_its_order_at_every_step(name):
    compared = found = 0
    for workflow, _, _ in _walk(name):
        for label, first, kwargs in _queries(workflow):
            ours = _ids(workflow, first, kwargs)
            with taskwalk.library_walk():
                theirs = _ids(workflow, first, kwargs)
            assert ours == theirs, (label, kwargs)
            compared += 1
            found += len(ours)
        # The library's own direct uses of the iterator (not through get_tasks).
        ours = ([t.id for t in workflow.task_tree], workflow.manual_input_required(),
                [t.id for t in TaskIterator(workflow.task_tree, state=TaskState.WAITING)])
        with taskwalk.library_walk():
            theirs = ([t.id for t in workflow.task_tree], workflow.manual_input_required(),
                      [t.id for t in TaskIterator(workflow.task_tree, state=TaskState.WAITING)])
        assert ours == theirs
    assert compared > 100 and found > 100


def _shape(workflow) -> list:
    """Every task of the workflow and its called processes in tree order: spec, state, data; read without the
    iterator."""
    out = []

    def visit(wf, task):
        out.append((task.task_spec.name, task.state, sorted(task.data.items(), key=repr)))
        subprocess = workflow.subprocesses.get(task.id)
        if subprocess is not None:
            out.append("called:")
            visit(subprocess, subprocess.task_tree)
        for child in task._children:  # noqa: SLF001
            visit(wf, wf.tasks[child])

    visit(workflow, workflow.task_tree)
    return out


@pytest.mark.parametrize("name", DIAGRAMS)
def test_a_case_runs_the_same_on_either_walk(name):
    """The same steps, choices and timers on the two walks leave the same task trees, step after step."""
    ours, theirs = _walk(name), _walk(name)
    steps = 0
    while True:
        a = next(ours, None)
        with taskwalk.library_walk():
            b = next(theirs, None)
        assert (a is None) == (b is None)
        if a is None:
            break
        assert _shape(a[0]) == _shape(b[0])
        assert [t.task_spec.name for t in runtime.ready_human_tasks(a[0])] == \
            [t.task_spec.name for t in runtime.ready_human_tasks(b[0])]
        assert a[0].is_completed() == b[0].is_completed()
        steps += 1
    assert steps >= 3


@pytest.mark.parametrize("name", ["decision_loop.bpmn", "call_main.bpmn", "parallel_review.bpmn"])
def test_a_caller_that_changes_the_tree_while_it_walks_sees_what_it_saw_before(name):
    """Children are read when a task is taken, as the library does: cutting the children of a task not yet
    reached hides them from both walks; cutting those of a task already passed changes neither."""
    *_, (workflow, spec, subprocess_specs) = _walk(name, steps=4)
    saved = state.dump(workflow)

    def walk_and_cut():
        copy = runtime.load(saved, spec, subprocess_specs)  # the same tree, the same ids
        seen = []
        for task in TaskIterator(copy.task_tree):
            seen.append(task.id)
            if len(seen) == 3:
                later = [t for t in copy.tasks.values() if t.id not in seen and t._children]  # noqa: SLF001
                later[len(later) // 2]._children = []  # noqa: SLF001
                task.parent._children = list(task.parent._children)  # noqa: SLF001 - passed: no effect
        return seen

    ours = walk_and_cut()
    with taskwalk.library_walk():
        theirs = walk_and_cut()
    assert ours == theirs
    assert len(ours) < len(runtime.load(saved, spec, subprocess_specs).tasks)  # the cut hid some


def test_a_walk_ends_and_stays_ended():
    workflow, *_ = next(_walk("two_steps_timer.bpmn"))
    walk = TaskIterator(workflow.task_tree, state=TaskState.READY)
    assert list(walk)
    with pytest.raises(StopIteration):
        next(walk)


def test_a_walk_for_definite_or_finished_states_does_not_look_under_predicted_tasks():
    """As the library: under a predicted task only predicted tasks can be, so it is not entered (checked here by
    planting a READY task there, which neither walk may find)."""
    workflow, *_ = next(_walk("sop_003_pengaduan_masyarakat.bpmn"))
    predicted = next(t for t in workflow.tasks.values()
                     if t.state & TaskState.PREDICTED_MASK and t._children)  # noqa: SLF001
    planted = workflow.tasks[predicted._children[0]]  # noqa: SLF001
    planted._state = TaskState.READY  # noqa: SLF001
    for mask in (TaskState.READY, TaskState.DEFINITE_MASK, TaskState.READY | TaskState.COMPLETED):
        ours = _ids(workflow, None, {"state": mask})
        with taskwalk.library_walk():
            assert ours == _ids(workflow, None, {"state": mask})
        assert planted.id not in ours


def test_a_new_or_ending_workflow_does_not_walk_its_tree_for_log_records_that_are_dropped(monkeypatch):
    """SpiffWorkflow's workflow log records list every task while its loggers' level is unset (engine/runtime.py
    sets WARNING): no walk of the tree for a record WARNING drops, and the records still come at a level asked for."""
    workflow, _, _ = next(_walk("two_steps_timer.bpmn"))
    walks = []
    real = Workflow.get_tasks
    monkeypatch.setattr(Workflow, "get_tasks", lambda self, *a, **kw: walks.append(1) or real(self, *a, **kw))
    assert "tasks" not in workflow.collect_log_extras() and walks == []
    monkeypatch.setattr(logging.getLogger("spiff.workflow"), "level", logging.DEBUG)
    assert len(workflow.collect_log_extras()["tasks"]) == len(workflow.tasks)  # what a lower level still gets
