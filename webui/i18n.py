"""Language (Bahasa Indonesia by default, English on request) and how times and durations are written."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g, request, session
from flask_babel import Babel, get_locale, gettext, ngettext

from engine import calendar as working_calendar
from engine.notify import ZONE_NAMES

LANGUAGES = ("id", "en")
DEFAULT = "id"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    chosen = request.args.get("lang") or session.get("lang") or getattr(g, "user_language", None)
    return chosen if chosen in LANGUAGES else DEFAULT


def compile_catalogs(source: Path = TRANSLATIONS) -> Path:
    """Compile the .po catalogs to .mo (next to them, or in a temporary folder when the install is read-only)."""
    try:
        return _compile_into(source, source)
    except OSError:
        return _compile_into(source, Path(tempfile.mkdtemp(prefix="alur-translations-")))


def _compile_into(source: Path, target: Path) -> Path:
    for po_path in source.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)
    return target


def local_time(moment: datetime | None, timezone: str = "Asia/Jakarta", fmt: str = "medium") -> str:
    """A moment in the office's local time with its zone's Indonesian abbreviation (WIB, WITA, WIT)."""
    if moment is None:
        return "–"
    tz = ZoneInfo(timezone)
    local = moment.astimezone(tz)
    pattern = "EEE, d MMM yyyy HH:mm" if fmt == "medium" else "d MMM HH:mm"
    text = format_datetime(local, pattern, locale=str(get_locale()))
    return f"{text} {ZONE_NAMES.get(timezone) or local.strftime('%Z')}"


def span(seconds: float) -> str:
    """A length of time in words, the two largest units: '2 hari 3 jam', '45 menit'."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if minutes and not days:
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", minutes))
    return " ".join(parts[:2]) or gettext("less than a minute")


def standard_time(iso: str | None) -> str:
    """An SOP standard time (ISO duration) in words: PT5M -> '5 menit', P1DT2H -> '1 hari 2 jam'."""
    if not iso:
        return "–"
    try:
        duration = working_calendar.parse_duration(iso)
    except ValueError:
        return iso
    hours, rest = divmod(int(duration.seconds), 3600)
    parts = []
    if duration.days:
        parts.append(ngettext("%(num)d working day", "%(num)d working days", duration.days))
    if hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if rest // 60:
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", rest // 60))
    return " ".join(parts) or "0"


def time_left(due: datetime | None, now: datetime | None = None) -> tuple[str, bool] | None:
    """('2 jam lagi' or 'terlambat 1 hari', overdue?) for a due time."""
    if due is None:
        return None
    now = now or datetime.now(UTC)
    delta = (due - now).total_seconds()
    if delta >= 0:
        return gettext("%(span)s left", span=span(delta)), False
    return gettext("overdue by %(span)s", span=span(delta)), True


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compile_catalogs())
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(local_time=local_time, standard_time=standard_time, span=span)
    app.jinja_env.globals.update(time_left=time_left, languages=LANGUAGES, current_locale=lambda: str(get_locale()),
                                 now=lambda: datetime.now(UTC))

    @app.context_processor
    def _language():
        return {"lang": str(get_locale())}
