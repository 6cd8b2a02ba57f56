"""B7: memory of a web worker over 30,000 requests of a realistic mix: no growth after warm-up.

`alur serve --workers 1` on PostgreSQL (throwaway schema), seeded as B3 (bench_web.py: office B, 16 officials,
a 16-step SOP with an SLA timer per step) with 300 open cases, more than the 256 workflows each web process keeps
in its LRU cache. The 16 officials (threads of this process) loop: inbox, task page, complete, the case page the
completion redirects to; the officials of the first lane also start a new case now and then (about one per 16
completions, as many as finish), so new cases, work items, sessions' pages and cache entries keep coming as in a
real office, and anything kept per case or per request without a bound shows up as growth.

Warm-up: the first two thirds of the requests. The seeded cases all start young, and each cached workflow grows
with its case (its task tree and the JSON of its finished tasks, kept for the next dump: engine/state.py), so the
worker's memory rises until the seeded cohort has gone through its 16 steps and been replaced (300 cases x 16 steps
x about 4 requests, some 19,000 requests), then stays flat. Measured from 2,000 requests on, a bounded cache that is
still filling looks like a leak; measured after the cohort has turned over, a real leak still shows.

The worker's resident memory (VmRSS, /proc/<pid>/status) is read every 3,000 requests (--quick: every 200).
Goal: after the warm-up the RSS grows by at most 5 MB (or 5 %, the larger) up to the end, and the least-squares
slope over the samples after the warm-up is under 0.5 MB per 1,000 requests.

    .venv/bin/python bench/bench_memory.py            # 30,000 requests (about 4 minutes)
    .venv/bin/python bench/bench_memory.py --quick    # 2,000 requests, samples every 200, warm-up 1,000, 64 cases
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import common
from webload import LANES, Official, Server, officials, seed


def rss_mb(pid: int) -> float:
    return rss_parts(pid)["VmRSS"]


def rss_parts(pid: int) -> dict[str, float]:
    """VmRSS and its parts in MB: RssAnon (the heap: what a leak grows), RssFile (mapped files: the interpreter and
    its libraries, resident or not as the kernel's reclaim leaves them) and RssShmem."""
    parts = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            parts[name] = int(value.split()[0]) / 1024
    if "VmRSS" not in parts:
        raise RuntimeError(f"no VmRSS for {pid}")
    return parts


class Meter:
    """Counts requests across the officials' threads and reads the worker's RSS every `every` requests."""

    def __init__(self, pid: int, total: int, every: int):
        self.pid, self.total, self.every = pid, total, every
        self.count, self.lock = 0, threading.Lock()
        self.samples: list[tuple[int, float, float]] = []  # (requests, RSS MB, seconds since the start)
        self.began = time.perf_counter()

    def tick(self) -> bool:
        """One more request; False once the total is reached."""
        with self.lock:
            self.count += 1
            if self.count % self.every == 0:
                sample = (self.count, rss_mb(self.pid), time.perf_counter() - self.began)
                self.samples.append(sample)
                print(f"  {sample[0]:>6} requests  RSS {sample[1]:7.1f} MB  {sample[2]:6.0f} s", flush=True)
            return self.count < self.total


class Clerk(Official):
    """A B3 official (the first lane's also start new cases) whose every request counts for the meter."""

    def __init__(self, meter: Meter, *args):
        super().__init__(*args)
        self.meter, self.going = meter, True

    def call(self, kind, method, path, form=None):
        result = super().call(kind, method, path, form)
        if kind not in ("login", "login_form"):
            self.going = self.meter.tick() and self.going
        return result


def run(port: int, pid: int, total: int, every: int) -> tuple[list, Counter]:
    meter = Meter(pid, total, every)
    outcomes: Counter = Counter()
    lock = threading.Lock()
    clerks = [Clerk(meter, port, name, rank, holders, role == LANES[0]) for name, role, rank, holders in officials()]
    for clerk in clerks:
        clerk.login()

    def loop(clerk: Clerk) -> None:
        while clerk.going:
            what = clerk.step(case_page=True)
            started = clerk.maybe_start() if what == "completed" else None
            with lock:
                outcomes.update([what] + ([started] if started else []))
            if what == "idle":
                time.sleep(0.2)
            if meter.count >= total:
                return

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clerks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = Counter(kind for c in clerks for kind, *_ in c.samples)
    return meter.samples, outcomes + Counter({f"requests_{k}": n for k, n in kinds.items()})


def verdict(samples, warmup: int) -> dict:
    after = [(n, rss) for n, rss, _ in samples if n >= warmup]
    base, end = after[0][1], after[-1][1]
    xs, ys = [n / 1000 for n, _ in after], [rss for _, rss in after]
    slope = statistics.linear_regression(xs, ys).slope if len(after) > 2 else 0.0
    tolerance = max(5.0, 0.05 * base)
    return {"rss_after_warmup_mb": base, "rss_end_mb": end, "growth_mb": end - base, "tolerance_mb": tolerance,
            "slope_mb_per_1k": slope, "peak_mb": max(ys),
            "met": end - base <= tolerance and slope < 0.5}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 requests, samples every 200, 64 cases")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--cases", type=int)
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    total = args.requests or (2000 if args.quick else 30_000)
    every = max(1, total // 10)
    warmup = total // 2 if args.quick else total * 2 // 3  # the seeded cohort of cases has turned over (docstring)
    # --quick: too few requests to fill the cache of 256 workflows, so fewer cases, all in the cache after the warm-up
    cases = args.cases or (64 if args.quick else 300)
    url, drop, version = common.postgres_schema()
    if url is None:
        print(f"B7 needs PostgreSQL: {drop}")
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="alur-b7-") as name:
            tmp = Path(name)
            began = time.perf_counter()
            # Spread over the lanes, all 16 officials work from the start and the warm-up touches every case (the
            # cache is full after it); --quick seeds them all at the first step, which is quicker.
            seed(url, tmp / "data", cases, spread=not args.quick)
            print(f"B7: seeded {cases} open cases in {time.perf_counter() - began:.0f} s; {total} requests "
                  f"(inbox, task, complete, case, start), RSS every {every}, warm-up {warmup}")
            server = Server(url, tmp / "data", workers=1, log=tmp / "serve.log")
            try:
                [pid] = server.worker_pids()
                initial = rss_mb(pid)
                samples, outcomes = run(server.port, pid, total, every)
                parts = rss_parts(pid)
            finally:
                server.stop()
    finally:
        drop()
    result = verdict(samples, warmup)
    common.print_table(["requests", "RSS MB", "vs warm-up MB", "seconds"],
                       [[n, rss, rss - result["rss_after_warmup_mb"] if n >= warmup else None, s]
                        for n, rss, s in samples], "Web worker memory")
    print(f"\nRSS at start {initial:.1f} MB; at the end " + ", ".join(f"{k} {v:.1f} MB" for k, v in parts.items())
          + f"; outcomes {dict(outcomes)}")
    print(f"growth after warm-up {result['growth_mb']:+.1f} MB (tolerance {result['tolerance_mb']:.1f} MB), "
          f"slope {result['slope_mb_per_1k']:+.2f} MB per 1,000 requests")
    note = " (--quick: 1,000 requests after the warm-up, indicative only; the full run decides)" if args.quick else ""
    print(f"goal no growth after warm-up: {'met' if result['met'] else 'NOT met'}{note}")
    common.write_result("B7", {
        "parameters": {"requests": total, "sample_every": every, "warmup": warmup, "cases": cases, "workers": 1,
                       "officials": 16, "mix": "inbox, task page, complete, case page; ~1 start per 16 steps"},
        "rss_at_start_mb": initial, "rss_parts_at_end_mb": parts,
        "samples": [{"requests": n, "rss_mb": r, "seconds": s} for n, r, s in samples],
        "outcomes": dict(outcomes), "result": result, "goal_met": result["met"],
        "machine": common.machine(version)}, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
