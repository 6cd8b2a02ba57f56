"""The cyclic garbage collector in Alur's long-running processes (web workers, the timer worker).

A web worker keeps a few hundred cases' workflows in memory (engine/state.py's WorkflowCache), each about a
thousand objects: with Python's default settings the collector walked all of them in a full collection every few
seconds under load (B3: 5-8 full collections per worker in 15 s, about 100 ms each, with every thread of the worker
stopped, 15 % of the worker's CPU). The objects Alur drops are freed by reference counting instead (a dropped
workflow is dismantled, a unit of work lets go of its repositories), so full collections find next to nothing;
they now run after 1,000 collections of the middle generation instead of 10 (a few minutes under load), and what
the process loaded at start (modules, templates, parsed specs) is moved out of the collector's sight.
"""

from __future__ import annotations

import gc

FULL_COLLECTION_AFTER = 1000  # collections of generation 1 (Python's default: 10)


def tune() -> None:
    """Once the process has loaded what it keeps for its lifetime (the app, its templates): freeze it, and make
    full collections rare."""
    gc.collect()
    gc.freeze()
    threshold0, threshold1, _ = gc.get_threshold()
    gc.set_threshold(threshold0, threshold1, FULL_COLLECTION_AFTER)
