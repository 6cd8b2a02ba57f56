"""Settings for running the web UI under gunicorn directly: `gunicorn -c python:adapters.gunicorn_conf ...`.

What `alur serve` sets itself beyond the command line: each worker compiles its templates and sets its garbage
collector for a long-running process once its app is loaded (adapters/serve.py, adapters/gctune.py).
"""

from adapters.serve import _worker_ready as post_worker_init  # noqa: F401 - read by gunicorn

worker_class = "gthread"
threads = 8
