"""`alur serve`: the web UI under gunicorn, optionally with the timer worker beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from gunicorn.app.base import BaseApplication

from adapters.bootstrap import count_setting
from adapters.sql import POOL_SIZE


class _Gunicorn(BaseApplication):
    """Gunicorn run from Python: each worker process builds its own app (and database pool) after the fork."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from webui import create_app

        return create_app()


def _worker_ready(worker) -> None:
    """In each web worker, once its app is loaded: its templates compiled (not by the first requests), then the
    garbage collector set for a long-running process."""
    from adapters import gctune

    app = getattr(worker, "wsgi", None)
    env = getattr(app, "jinja_env", None)
    if env is not None:
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)
    gctune.tune()


# A keep-alive connection stays with the worker process that accepted it. Officials log in at about the same time
# in the morning and keep their connections open, so the split between processes is left to chance (in B3, 16
# connections came out 10 to 6 in one run, and the process serving 10 used its core to the full while the other
# had time to spare). nginx ends a keep-alive connection after `keepalive_requests` (1000 by default) for the same
# reason; gunicorn has no such setting. After this many requests the connection is closed once its response is
# sent, the client opens a new one, and the least busy process tends to accept it (a busy one gets to its listening
# socket later).
KEEPALIVE_REQUESTS = 100


def _keepalive_requests() -> int:
    """ALUR_KEEPALIVE_REQUESTS, at least 1; KEEPALIVE_REQUESTS when unset or not a number."""
    return count_setting("ALUR_KEEPALIVE_REQUESTS", KEEPALIVE_REQUESTS)


_KEEPALIVE_LIMIT = _keepalive_requests()  # read once: gunicorn loads this module before it forks the workers


def _keepalive_limit(worker, req) -> None:
    """gunicorn's pre_request hook: every ALUR_KEEPALIVE_REQUESTS-th request on a connection is its last (the
    response says `Connection: close`; the client reconnects)."""
    if req.req_number % _KEEPALIVE_LIMIT == 0:
        req.must_close = True


def start_worker() -> subprocess.Popen:
    """The timer worker as a child process, with the same environment (database, data folder)."""
    return subprocess.Popen([sys.executable, "-m", "adapters.cli", "worker"], env=os.environ.copy())


def serve(host: str, port: int, workers: int, with_worker: bool, on_ready=None, threads: int = 8) -> None:
    """Serve until interrupted; stops the worker child on the way out.

    gthread workers: each process serves `threads` requests at once. A request spends much of its time waiting for
    the database (a dozen short queries), and a thread waiting lets another one run; CPU work is one thread at a
    time per process (the GIL), so processes, not threads, use the cores: `workers` about 2 per core. B3
    (bench/bench_web.py) measured 8 threads ahead of 1, 2 and 4 on 2 cores with PostgreSQL on the same machine.
    Each process's pool keeps threads + 2 connections open (at least 10; ALUR_DB_POOL_SIZE overrides) and opens up
    to 10 more for a burst.
    """
    # Each request thread may hold a database connection: the pool of each worker keeps at least that many (plus
    # two for the odd request that needs a second one), unless ALUR_DB_POOL_SIZE says otherwise. The workers
    # inherit the environment.
    os.environ.setdefault("ALUR_DB_POOL_SIZE", str(max(POOL_SIZE, threads + 2)))
    worker = start_worker() if with_worker else None
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": "-" if os.environ.get("ALUR_ACCESS_LOG") else None,
        "errorlog": "-",
        "loglevel": "warning",
        "when_ready": (lambda _server: on_ready()) if on_ready else None,
        "post_worker_init": _worker_ready,
        "pre_request": _keepalive_limit,
        # gunicorn 27's control socket defaults to ~/.gunicorn/gunicorn.ctl, one per user: two `alur serve` on one
        # machine would take it from each other. Alur does not use it.
        "control_socket_disable": True,
    }
    try:
        _Gunicorn({k: v for k, v in options.items() if v is not None}).run()
    finally:
        if worker and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
