"""Settings for running the web UI under gunicorn directly: `gunicorn -c python:adapters.gunicorn_conf ...`.

What `alur serve` sets itself beyond the command line: each worker compiles its templates and sets its garbage
collector for a long-running process once its app is loaded, and a keep-alive connection ends after
ALUR_KEEPALIVE_REQUESTS requests (100) so that connections spread again over the workers (adapters/serve.py,
adapters/gctune.py).
"""

from adapters.serve import _keepalive_limit as pre_request  # noqa: F401 - read by gunicorn
from adapters.serve import _worker_ready as post_worker_init  # noqa: F401 - read by gunicorn

worker_class = "gthread"
threads = 8
