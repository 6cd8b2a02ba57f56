"""A faster walk of SpiffWorkflow's task trees, with the same results in the same order.

SpiffWorkflow finds tasks by walking the task tree with its TaskIterator, and it does so several times per step:
to find the READY engine tasks after each change, to update the WAITING ones after each completion, to see
whether the workflow has finished, inside joins and boundary events (its own issue sartography/SpiffWorkflow#424,
"we spend a lot of time iterating over tasks"). A case's tree holds every step done so far, so each walk grows
with the case. Per task the iterator pops the front of a list and rebuilds the list at every branch, counts its
depth again by climbing parents at every leaf, and filters through two method calls and several property reads.

`install()` replaces `TaskIterator.__next__` (BpmnTaskIterator inherits it) with one loop over a stack of (task,
depth) that visits the same tasks in the same order, descends under the same conditions (the filter's states,
`max_depth`, `end_at_spec`, called processes and `skip_subprocesses`) and applies the same filter; a filter of
another class than SpiffWorkflow's two is asked through its own `matches`. It finds each task's children when it
takes the task off the stack, as the library does, so a caller that changes the tree while it iterates (as
`update_waiting_tasks` does) sees what it saw before. Breadth-first walks keep the library's code.

B1 (bench/bench_step.py) shows SpiffWorkflow's own step on a 30-step chain about 2.4 times as fast with it (its
"raw on engine's walk" column). The benchmarks' plain-SpiffWorkflow baselines run inside `library_walk()`, so
their goals still compare against the library as it ships. It is installed only on the SpiffWorkflow release it
was written against (pyproject.toml pins it); tests/unit/test_taskwalk.py compares every kind of query with the
library's walk, step by step, on the seed SOPs and the test diagrams.
"""

from __future__ import annotations

from contextlib import contextmanager

import SpiffWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState

WRITTEN_FOR = "3.2.0"
_LIBRARY_NEXT = TaskIterator.__next__
_FINISHED = TaskState.FINISHED_MASK
_PLAIN_FILTERS = (TaskFilter, BpmnTaskFilter)


def _next(self):
    walk = self.__dict__.get("_alur_walk")
    if walk is None:
        if not self.depth_first:
            return _LIBRARY_NEXT(self)
        # The library's list holds the next task first; the stack holds it last. The filter's test is made once.
        walk = self._alur_walk = ([(task, self.depth) for task in reversed(self.task_list)],
                                  *_filter(self.task_filter), isinstance(self, BpmnTaskIterator))
        self.task_list = ()
    stack, states, extra, bpmn = walk
    min_state, max_depth, end_at = self.min_state, self.max_depth, self.end_at_spec
    pop, push = stack.pop, stack.append
    while stack:
        task, depth = pop()
        children = task._children  # noqa: SLF001 - the ids; the `children` property looks each one up
        # Most SOPs call no process: an empty map is not searched (hashing a UUID runs Python code).
        called = task.workflow.top_workflow.subprocesses if bpmn else None
        subprocess = called.get(task.id) if called else None
        if subprocess is not None:
            _push_called(self, task, depth, subprocess, push)
        elif children and task._state >= min_state and depth < max_depth and task.task_spec.name != end_at:  # noqa: SLF001
            tasks = task.workflow.tasks
            for child in reversed(children):
                push((tasks.get(child), depth + 1))
        if task._state & states and (extra is None or extra(task)):  # noqa: SLF001
            return task
    raise StopIteration


def _push_called(walk, task, depth, subprocess, push) -> None:
    """A task with a called process: its children, then (taken first) the process's tree, as the library."""
    if depth >= walk.max_depth or task.task_spec.name == walk.end_at_spec:
        return
    tasks = task.workflow.tasks
    for child in reversed(task._children):  # noqa: SLF001
        push((tasks.get(child), depth + 1))
    # Do not descend into a finished called process to look for unfinished tasks: the library's rule as it writes
    # it (a state compared with the mask as a number, so in 3.2.0 it never holds), kept to give its results.
    finished = task._state >= _FINISHED and walk.task_filter.state <= _FINISHED  # noqa: SLF001
    if not (walk.skip_subprocesses or finished):
        push((subprocess.task_tree, depth + 1))


def _filter(flt):
    """(states, the rest of the test or None): the test of SpiffWorkflow's two filters, in TaskFilter.matches's
    order; a filter of another class is asked through its own `matches`."""
    if type(flt) not in _PLAIN_FILTERS:
        return TaskState.ANY_MASK, flt.matches
    updated, manual, spec_name, spec_class = flt.updated_ts, flt.manual, flt.spec_name, flt.spec_class
    catches, lane = getattr(flt, "catches_event", None), getattr(flt, "lane", None)
    if not updated and spec_name is None and spec_class is None and catches is None and lane is None:
        if manual is None:
            return flt.state, None
        return flt.state, lambda task: task.task_spec.manual == manual

    def rest(task) -> bool:
        spec = task.task_spec
        return (task.last_state_change >= updated
                and (manual is None or spec.manual == manual)
                and (spec_name is None or spec.name == spec_name)
                and (spec_class is None or isinstance(spec, spec_class))
                and (catches is None or (isinstance(spec, CatchingEvent) and spec.catches(task, catches)))
                and (lane is None or spec.lane == lane))

    return flt.state, rest


def install() -> bool:
    """Walk task trees with `_next` (on the SpiffWorkflow release it was written for); whether it is installed."""
    if SpiffWorkflow.__version__ != WRITTEN_FOR:
        return False
    TaskIterator.__next__ = _next
    return True


def installed() -> bool:
    return TaskIterator.__next__ is _next


@contextmanager
def library_walk():
    """SpiffWorkflow's own walk for the duration (the benchmarks' plain-SpiffWorkflow baseline, the tests'
    reference). Process-wide: not for a server that runs steps meanwhile."""
    was = TaskIterator.__next__
    TaskIterator.__next__ = _LIBRARY_NEXT
    try:
        yield
    finally:
        TaskIterator.__next__ = was
