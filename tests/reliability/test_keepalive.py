"""`alur serve` ends a keep-alive connection after ALUR_KEEPALIVE_REQUESTS requests (adapters/serve.py), so that
connections opened at the same time spread again over the worker processes; the client reconnects."""

from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path

from adapters import gunicorn_conf, serve
from tests.conftest import make_app
from tests.mailserver import free_port
from tests.reliability.test_crashes import Service, wait_for_port

ALUR = Path(sys.executable).with_name("alur")


def _serve(tmp_path, requests: str | None) -> tuple[int, Service]:
    url = f"sqlite:///{tmp_path / 'alur.db'}"
    make_app(url, tmp_path).engine.dispose()
    env = {**os.environ, "ALUR_DATABASE_URL": url, "ALUR_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALUR_KEEPALIVE_REQUESTS", None)
    if requests is not None:
        env["ALUR_KEEPALIVE_REQUESTS"] = requests
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    port = free_port()
    web = Service("web", [str(ALUR), "serve", "--port", str(port), "--workers", "1", "--threads", "2"], env, logs)
    web.start()
    wait_for_port(port, web)
    return port, web


def _closes(port: int, count: int) -> list[bool]:
    """Send `count` requests on one keep-alive connection, as far as the server keeps it: whether each response
    said Connection: close."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    said = []
    try:
        for _ in range(count):
            conn.request("GET", "/masuk")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            said.append(response.headers.get("Connection", "").lower() == "close")
            if said[-1]:
                break
    finally:
        conn.close()
    return said


def test_a_connection_ends_after_the_set_number_of_requests_and_the_client_reconnects(tmp_path):
    port, web = _serve(tmp_path, "3")
    try:
        assert _closes(port, 10) == [False, False, True]
        assert _closes(port, 10) == [False, False, True]  # a new connection counts again
    finally:
        web.stop()


def test_by_default_a_connection_serves_a_hundred_requests(tmp_path):
    port, web = _serve(tmp_path, None)
    try:
        said = _closes(port, 120)
        assert said == [False] * 99 + [True]
    finally:
        web.stop()


def test_a_bad_setting_falls_back_to_the_default_and_gunicorn_run_directly_uses_the_same_hook(monkeypatch):
    monkeypatch.setenv("ALUR_KEEPALIVE_REQUESTS", "banyak")
    assert serve._keepalive_requests() == serve.KEEPALIVE_REQUESTS  # noqa: SLF001
    monkeypatch.setenv("ALUR_KEEPALIVE_REQUESTS", "0")
    assert serve._keepalive_requests() == 1  # noqa: SLF001
    assert gunicorn_conf.pre_request is serve._keepalive_limit  # noqa: SLF001
