"""The officials' web UI: a Flask app factory wiring blueprints to the engine's use cases."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask, has_request_context, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

import forms
from adapters import bootstrap
from adapters.files import FileStore

csrf = CSRFProtect()
ROOT = Path(__file__).resolve().parent


class _SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS, not only when configured to; and makes
    the cookie's signing serializer once per secret key (Flask makes a new one twice per request, to read the
    cookie and to write it: about 2 % of a step's CPU in B3)."""

    def get_cookie_secure(self, app):
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = app.extensions.get("alur_session_serializer")
        if made is None or made[0] != keys:
            made = app.extensions["alur_session_serializer"] = (keys, super().get_signing_serializer(app))
        return made[1]


def _url_for_memo(size: int = 4096):
    """url_for for the templates, remembered per process: a page's links (its frame alone has nine) are the same
    for every request that comes in on the same host and path prefix, and building one costs Werkzeug's routing
    each time. Only what url_for makes of an endpoint and its arguments is kept (no blueprint here adds URL
    defaults); links relative to the current blueprint (".name") or with an underscore option (_external,
    _anchor, ...) are built each time."""
    memo: dict = {}

    def cached(endpoint, **values):
        if not has_request_context() or endpoint.startswith(".") or any(name.startswith("_") for name in values):
            return url_for(endpoint, **values)
        try:
            key = (request.host, request.script_root, endpoint, *sorted(values.items()))
            hash(key)
        except TypeError:  # an unhashable argument: nothing to remember it by
            return url_for(endpoint, **values)
        url = memo.get(key)
        if url is None:
            url = url_for(endpoint, **values)
            if len(memo) >= size:
                memo.clear()
            memo[key] = url
        return url

    return cached


def _secret_key(data_dir: Path) -> str:
    """A secret kept in the data folder, so sessions survive restarts and every worker process shares it."""
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret_key-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
            # Appears whole or not at all; when several workers start at once, the first link wins for everyone.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it (a new key is made) or set ALUR_SECRET_KEY")
    return key


def create_app(config: dict | None = None, alur=None) -> Flask:
    """Build the web app; configuration comes from ALUR_* variables, then `config` (tests)."""
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        SESSION_COOKIE_NAME="alur_session",
        # Server-side sessions (webui/auth.py): ended after 2 hours unused, and 12 hours after login at the latest
        # (a working day with overtime); the signed cookie lives no longer than that.
        SESSION_IDLE_MINUTES=120,
        SESSION_MAX_HOURS=12,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        PASSWORD_REHASH=True,  # a login with a hash weaker than today's parameters stores a stronger one
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        MAX_UPLOAD_MB=10,
        LOGIN_MAX_FAILURES=5,
        LOGIN_MAX_FAILURES_PER_ADDRESS=30,
        LOGIN_WINDOW_MINUTES=15,
        PROXY_FIX=False,
        NODE_MODULES=str(ROOT.parent / "node_modules"),
    )
    app.config.from_prefixed_env("ALUR")
    app.config.update(config or {})
    alur = alur or bootstrap.build(app.config.get("ENV_OVERRIDE"))
    app.extensions["alur"] = alur
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(alur.data_dir)
    max_bytes = int(app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    app.config["MAX_CONTENT_LENGTH"] = max_bytes + 1024 * 1024  # room for the form's other fields
    folder = Path(app.config.get("ATTACHMENTS_DIR") or alur.data_dir / "attachments")
    app.extensions["alur_files"] = FileStore(folder, max_bytes, frozenset(forms.DEFAULT_ALLOWED))
    app.session_interface = _SessionInterface()
    app.jinja_env.globals["url_for"] = _url_for_memo()
    if app.config["PROXY_FIX"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    from webui import admin_home, auth, cases, errors, i18n, inbox, safety, tasks, vendor

    admin_home.init_app(app)  # before CSRF protection, which reads the request body first
    csrf.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    safety.init_app(app)
    for module in (auth, inbox, tasks, cases, vendor, admin_home):
        app.register_blueprint(module.bp)
    from webui import modeler

    app.register_blueprint(modeler.bp)
    return app
