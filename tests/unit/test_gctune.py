"""The garbage collector of Alur's long-running processes: set once their app is loaded, in every web worker and in
the timer worker."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest

from adapters import gctune, serve
from webui import create_app


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_freezes_what_is_loaded_and_makes_full_collections_rare(restored_gc):
    gc.unfreeze()
    first, second, _ = gc.get_threshold()
    gctune.tune()
    assert gc.get_freeze_count() > 1000  # the modules and objects this process has loaded
    assert gc.get_threshold() == (first, second, gctune.FULL_COLLECTION_AFTER)


def test_every_web_worker_compiles_its_templates_and_tunes_it_once_its_app_is_loaded(monkeypatch, restored_gc,
                                                                                     tmp_path):
    options = {}

    class Captured:
        def __init__(self, given):
            options.update(given)

        def run(self):
            pass

    monkeypatch.setattr(serve, "_Gunicorn", Captured)
    serve.serve("127.0.0.1", 0, workers=2, with_worker=False)
    gc.unfreeze()
    app = create_app({"SECRET_KEY": "t", "ENV_OVERRIDE": {"ALUR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
                                                           "ALUR_DATA_DIR": str(tmp_path / "data")}})
    options["post_worker_init"](SimpleNamespace(wsgi=app))  # gunicorn calls it in each worker, its app loaded
    assert gc.get_freeze_count() > 1000 and gc.get_threshold()[2] == gctune.FULL_COLLECTION_AFTER
    compiled = {template.name for template in app.jinja_env.cache.values()}
    assert {"base.html", "inbox.html", "task.html", "_macros.html", "admin/index.html"} <= compiled


def test_gunicorn_run_directly_with_alurs_settings_does_the_same():
    from adapters import gunicorn_conf

    assert gunicorn_conf.post_worker_init is serve._worker_ready
    assert (gunicorn_conf.worker_class, gunicorn_conf.threads) == ("gthread", 8)
