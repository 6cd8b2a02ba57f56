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


def test_the_session_cookie_follows_the_secret_key_as_it_changes(tmp_path):
    """The session cookie's signing serializer is made once per secret key, not at every request: a key changed
    while the app runs takes effect at once, a cookie signed with the old key still opens while it is listed in
    SECRET_KEY_FALLBACKS (rotation), and not once it is dropped."""
    from tests.web.conftest import build_site

    site = build_site(f"sqlite:///{tmp_path / 'alur.db'}", tmp_path, "sqlite")
    try:
        browser = site.browser("klien.malut")
        app = site.flask
        assert browser.get("/tugas").status_code == 200
        old_cookie = browser.client.get_cookie("alur_session").value

        app.secret_key = app.config["SECRET_KEY"] = "a new secret"
        app.config["SECRET_KEY_FALLBACKS"] = ["test"]
        assert browser.get("/tugas").status_code == 200  # signed with the old key, which is a fallback
        browser.client.set_cookie("alur_session", "")
        browser.login("klien.malut")
        new_cookie = browser.client.get_cookie("alur_session").value
        assert new_cookie != old_cookie
        assert browser.get("/tugas").status_code == 200

        app.config["SECRET_KEY_FALLBACKS"] = []
        browser.client.set_cookie("alur_session", old_cookie)
        assert browser.get("/tugas").status_code == 302  # the old key signs nothing any more: logged out
        browser.client.set_cookie("alur_session", new_cookie)
        assert browser.get("/tugas").status_code == 200
    finally:
        site.alur.engine.dispose()
