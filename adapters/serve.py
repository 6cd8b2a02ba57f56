"""`alur serve`: the web UI under gunicorn, optionally with the timer worker beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from gunicorn.app.base import BaseApplication


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


def start_worker() -> subprocess.Popen:
    """The timer worker as a child process, with the same environment (database, data folder)."""
    return subprocess.Popen([sys.executable, "-m", "adapters.cli", "worker"], env=os.environ.copy())


def serve(host: str, port: int, workers: int, with_worker: bool, on_ready=None, threads: int = 8) -> None:
    """Serve until interrupted; stops the worker child on the way out.

    gthread workers: each process serves `threads` requests at once. A request spends much of its time waiting for
    the database (a dozen short queries), and a thread waiting lets another one run; CPU work is one thread at a
    time per process (the GIL), so processes, not threads, use the cores: `workers` about 2 per core. B3
    (bench/bench_web.py) measured 8 threads ahead of 1, 2 and 4 on 2 cores with PostgreSQL on the same machine.
    A process holds at most `threads` database connections (its pool allows 15).
    """
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
