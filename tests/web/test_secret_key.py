"""The generated secret key: made once, whole, and the same for every web process starting at the same moment."""

from __future__ import annotations

import multiprocessing

from webui import _secret_key


def _read_key(folder, barrier, results):
    barrier.wait()
    results.put(_secret_key(folder))


def test_web_processes_starting_together_all_get_the_same_non_empty_key(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    processes = [context.Process(target=_read_key, args=(tmp_path, barrier, results)) for _ in range(8)]
    for process in processes:
        process.start()
    keys = [results.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left behind
