"""Logging in and out, the current user, and the language choice."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import LoginManager, current_user, login_required, login_user, logout_user

from adapters.directory import CacheMarks
from engine import passwords
from engine.permissions import audit
from webui.i18n import LANGUAGES
from webui.safety import local_path

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
_DUMMY_HASH = passwords.hash_password("not-a-real-password-only-for-timing")
# Endpoints serving the site's static files, which never need to know who asks.
PUBLIC_ASSETS = frozenset({"static", "vendor.asset"})
# A session's last use is written at most this often (one small write a minute per active user, not per request).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass
class User:
    """The logged-in official; `session_id` names their row in the sessions table (ended at logout)."""

    username: str
    full_name: str
    roles: set
    session_id: str
    language: str | None = None
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return f"{self.username}:{self.session_id}"

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @property
    def offices(self) -> list[str]:
        return sorted({office for office, _ in self.roles if office})

    @property
    def is_admin(self) -> bool:
        return any(role == "admin" for _, role in self.roles)


def session_hash(session_id: str) -> str:
    """What the sessions table stores of a session id: a copy of the table opens no session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def alur():
    return current_app.extensions["alur"]


def reading():
    """A read-only unit of work for this request's pages: its directory reads (the viewer's grants, offices, lane
    roles) and the SOP list come from the process's caches as of the marks read with the session, first thing in
    the request (adapters.sql.UowFactory). Only for reads that follow no change to the directory in this request."""
    return alur().uow(write=False, marks=g.get("cache_marks"))


def _now() -> datetime:
    return datetime.now(UTC)


def _limits() -> tuple[timedelta, timedelta]:
    """(idle timeout, absolute lifetime) of a session, from SESSION_IDLE_MINUTES and SESSION_MAX_HOURS."""
    config = current_app.config
    return (timedelta(minutes=float(config["SESSION_IDLE_MINUTES"])),
            timedelta(hours=float(config["SESSION_MAX_HOURS"])))


def _load(username: str, session_id: str):
    """The user of a live session: it exists, belongs to `username`, is neither idle nor too old; else None."""
    if not username or not session_id:
        return None
    now, id_hash = _now(), session_hash(session_id)
    idle, lifetime = _limits()
    # The session, its account and the account's grants in one query: this runs at every request. Views take the
    # grants from current_user rather than asking the database again within the request.
    with alur().uow(write=False) as uow:
        found = uow.directory.session_user(id_hash)
    if found is None:
        return None  # logged out, ended by a new password or deactivation, or never opened
    live, row, roles = found
    g.cache_marks = CacheMarks.of(row)
    if row.username != username:
        return None
    if now - live.last_seen_at > idle or now - live.created_at > lifetime:
        return None
    if not row.active:
        return None  # a deactivated account is locked out on its next request
    if now - live.last_seen_at > TOUCH_EVERY:
        with alur().uow() as uow:
            uow.directory.touch_session(id_hash, now)
            uow.commit()
    return User(row.username, row.full_name or "", roles, session_id, getattr(row, "language", None))


def _open_session(uow, username: str, now: datetime) -> str:
    """A new session for `username` (a new random id at every login), sweeping away expired ones."""
    idle, lifetime = _limits()
    uow.directory.end_expired_sessions(now - idle, now - lifetime)
    session_id = secrets.token_urlsafe(32)
    uow.directory.add_session(session_hash(session_id), username, now)
    return session_id


@dataclass(frozen=True)
class Verdict:
    user: User | None
    wait_minutes: int = 0


def _address() -> str:
    return request.remote_addr or "unknown"


def _upgrade_hash(uow, username: str, password: str, stored: str, now: datetime) -> None:
    """Store the password hashed with today's parameters when `stored` is weaker; the user's sessions go on."""
    if not current_app.config["PASSWORD_REHASH"] or not passwords.needs_rehash(stored):
        return
    stronger = passwords.hash_password(password)
    if uow.directory.upgrade_password_hash(username, stored, stronger):
        audit(uow, username, "password_rehashed", now, username=username, before=passwords.describe(stored),
              after=passwords.describe(stronger))


def check_login(username: str, password: str) -> Verdict:
    """Verify a password, refusing while too many recent attempts failed for the account or the address.

    A successful login opens a new server-side session and upgrades a hash made with weaker parameters.
    """
    config = current_app.config
    now = _now()
    window = timedelta(minutes=int(config["LOGIN_WINDOW_MINUTES"]))
    with alur().uow() as uow:
        by_user = uow.logins.failures_since(now - window, username=username)
        by_address = uow.logins.failures_since(now - window, address=_address())
        if by_user >= int(config["LOGIN_MAX_FAILURES"]) or by_address >= int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]):
            return Verdict(None, wait_minutes=int(window.total_seconds() // 60))
        row = uow.directory.user(username)
        ok = passwords.verify_password(password, row.password_hash if row else _DUMMY_HASH) and bool(row)
        ok = ok and bool(row.active)
        uow.logins.add(username, _address(), now, ok)
        session_id = None
        if ok:
            _upgrade_hash(uow, row.username, password, row.password_hash, now)
            session_id = _open_session(uow, row.username, now)
        uow.commit()
    return Verdict(_load(row.username, session_id) if ok else None)


@bp.route("/masuk", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    username = (request.form.get("username") or "").strip()
    if request.method == "POST":
        verdict = check_login(username, request.form.get("password") or "")
        if verdict.user:
            language = session.get("lang")
            session.clear()  # a fresh session at login: nothing from before carries over (session fixation)
            if language:
                session["lang"] = language
            login_user(verdict.user)
            return redirect(_safe_next(request.args.get("next")))
        if verdict.wait_minutes:
            flash(gettext("Too many failed attempts. Try again in %(minutes)d minutes.",
                          minutes=verdict.wait_minutes), "error")
            return render_template("login.html", username=username), 429
        flash(gettext("The username or password is incorrect."), "error")
        return render_template("login.html", username=username), 401
    return render_template("login.html", username=username)


def _safe_next(target: str | None) -> str:
    return local_path(target, url_for("inbox.index"))


@bp.route("/keluar", methods=["POST"])
@login_required
def logout():
    language = session.get("lang")
    with alur().uow() as uow:
        uow.directory.end_session(session_hash(current_user.session_id))  # a copy of the cookie opens nothing now
        uow.commit()
    logout_user()
    session.clear()
    if language:
        session["lang"] = language
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/bahasa", methods=["POST"])
def language():
    chosen = request.form.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        if current_user.is_authenticated:
            with alur().uow() as uow:
                uow.directory.set_language(current_user.username, chosen)
                uow.commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/akun", methods=["GET", "POST"])
@login_required
def account():
    """The user's own settings: e-mail notifications on or off."""
    with alur().uow(write=request.method == "POST") as uow:
        if request.method == "POST":
            enabled = request.form.get("email_notifications") == "on"
            uow.directory.set_notifications(current_user.username, enabled)
            uow.commit()
            flash(gettext("E-mail notifications are on.") if enabled else gettext("E-mail notifications are off."),
                  "success")
            return redirect(url_for("auth.account"))
        row = uow.directory.user(current_user.username)
    return render_template("account.html", email=row.email, notifications=bool(row.email_notifications))


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        username, _, session_id = user_id.partition(":")
        return _load(username, session_id)

    @login_manager.unauthorized_handler
    def unauthorized():
        flash(gettext("Please log in to continue."), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None))

    @app.before_request
    def _user_language():
        # The site's own scripts and styles need no user: loading one would cost a session lookup per file.
        if request.endpoint not in PUBLIC_ASSETS and current_user.is_authenticated:
            g.user_language = current_user.language
