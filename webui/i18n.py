"""Language (Bahasa Indonesia by default, English on request) and how times and durations are written."""

from __future__ import annotations

import contextlib
import re
import tempfile
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, parse_pattern
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g, request, session
from flask_babel import Babel, get_locale, get_translations
from markupsafe import Markup, escape

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


# Every page writes a few dozen strings, dates and durations (the inbox: three per row). Flask-Babel finds the
# request's translations anew at each call, through several context lookups; babel's format_datetime parses the
# pattern and builds a formatter per call. Both are done once here, with the same results.

def _language():
    """(locale, its name, translations) of the current request, found once per request (and again whenever
    Flask-Babel's locale changes: force_locale, refresh). Outside a request: Flask-Babel's own answers."""
    try:
        ctx = g._flask_babel  # noqa: SLF001 - where Flask-Babel keeps the request's locale
    except (AttributeError, RuntimeError):
        ctx = None
    if ctx is not None:
        cached = getattr(ctx, "alur_language", None)
        if cached is not None and cached[0] is getattr(ctx, "babel_locale", None):
            return cached
    locale = get_locale()
    found = (locale, str(locale) if locale is not None else DEFAULT, get_translations())
    with contextlib.suppress(AttributeError, RuntimeError):
        g._flask_babel.alur_language = found  # noqa: SLF001
    return found


def translations():
    return _language()[2]


def gettext(string: str, **variables) -> str:
    """flask_babel.gettext, with the request's translations looked up once."""
    text = _language()[2].ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """flask_babel.ngettext (`num` is also given to the format as %(num)d)."""
    variables.setdefault("num", num)
    return _language()[2].ungettext(singular, plural, num) % variables


_FIELD = re.compile(r"%%|%\((\w+)\)s")  # a field of a babel pattern's format string, or a literal %
_WRITERS = {
    "d": lambda m, days, months: str(m.day),
    "yyyy": lambda m, days, months: f"{m.year:04d}",
    "HH": lambda m, days, months: f"{m.hour:02d}",
    "mm": lambda m, days, months: f"{m.minute:02d}",
    "EEE": lambda m, days, months: days[m.weekday()],
    "MMM": lambda m, days, months: months[m.month],
}


@lru_cache(maxsize=64)
def _date_formatter(locale_name: str, pattern: str):
    """format_datetime(moment, pattern, locale) for an aware moment, as a function; None for a pattern with a field
    not written here (then babel formats it)."""
    parsed = parse_pattern(pattern).format
    fields = [field for field in _FIELD.findall(parsed) if field]
    if not set(fields) <= _WRITERS.keys():
        return None
    locale = Locale.parse(locale_name)
    days = tuple(locale.days["format"]["abbreviated"][day] for day in range(7))
    months = (None, *(locale.months["format"]["abbreviated"][month] for month in range(1, 13)))
    template = _FIELD.sub(lambda m: "%%" if m.group(0) == "%%" else "%s", parsed)
    writers = tuple(_WRITERS[field] for field in fields)
    return lambda moment: template % tuple(write(moment, days, months) for write in writers)


@lru_cache(maxsize=64)
def _zone(timezone: str) -> tuple[ZoneInfo, str | None]:
    return ZoneInfo(timezone), ZONE_NAMES.get(timezone)


def local_time(moment: datetime | None, timezone: str = "Asia/Jakarta", fmt: str = "medium") -> str:
    """A moment in the office's local time with its zone's Indonesian abbreviation (WIB, WITA, WIT)."""
    if moment is None:
        return "–"
    return _local_time(moment, timezone, fmt, _language()[1])


# The holders of a role see the same steps in their inboxes, page after page: each moment is written once per
# process (per zone, form and language) while it is shown often.
@lru_cache(maxsize=2048)
def _local_time(moment: datetime, timezone: str, fmt: str, locale_name: str) -> str:
    tz, abbreviation = _zone(timezone)
    local = moment.astimezone(tz)
    pattern = "EEE, d MMM yyyy HH:mm" if fmt == "medium" else "d MMM HH:mm"
    formatter = _date_formatter(locale_name, pattern)
    text = formatter(local) if formatter else format_datetime(local, pattern, locale=locale_name)
    return f"{text} {abbreviation or local.strftime('%Z')}"


def _units(seconds: float) -> tuple[int, int, int]:
    """(days, hours, minutes) a span names: minutes only below a day."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return days, hours, 0 if days else rest // 60


# The words depend only on the language and the units: written once per process for each.
@lru_cache(maxsize=4096)
def _span_words(translations, days: int, hours: int, minutes: int) -> str:
    parts = []
    if days:
        parts.append(translations.ungettext("%(num)d day", "%(num)d days", days) % {"num": days})
    if hours:
        parts.append(translations.ungettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours})
    if minutes:
        parts.append(translations.ungettext("%(num)d minute", "%(num)d minutes", minutes) % {"num": minutes})
    return " ".join(parts[:2]) or translations.ugettext("less than a minute")


@lru_cache(maxsize=4096)
def _time_left_words(translations, overdue: bool, days: int, hours: int, minutes: int) -> str:
    message = translations.ugettext("overdue by %(span)s") if overdue else translations.ugettext("%(span)s left")
    return message % {"span": _span_words(translations, days, hours, minutes)}


def span(seconds: float) -> str:
    """A length of time in words, the two largest units: '2 hari 3 jam', '45 menit'."""
    return _span_words(_language()[2], *_units(seconds))


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
    return _time_left_words(_language()[2], delta < 0, *_units(delta)), delta < 0


def due(item, timezone: str) -> Markup:
    """A step's due time, the time left or how late it is, and the Overdue badge: the cell the inbox shows per row
    (written here rather than as a Jinja macro, which cost more than the rest of the row)."""
    if not item.due_at:
        return Markup('<span class="muted">–</span>')
    left, late = time_left(item.due_at)
    late = item.overdue or late
    return Markup("".join((
        '<span class="due overdue">' if late else '<span class="due">',
        f'\n      <time datetime="{escape(item.due_at.isoformat())}">{escape(local_time(item.due_at, timezone))}</time>'
        "\n      ",
        f"<small>{escape(left)}</small>" if item.state == "ready" else "",
        "\n      ",
        # A translation is trusted markup, as Jinja's _() treats it.
        f'<span class="badge late">{_language()[2].ugettext("Overdue")}</span>' if late else "",
        "\n    </span>",
    )))


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compile_catalogs())
    Babel(app, locale_selector=select_locale)
    # Jinja's _() and friends as Flask-Babel installs them, with the request's translations looked up once.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters.update(local_time=local_time, standard_time=standard_time, span=span)
    app.jinja_env.globals.update(due=due, time_left=time_left, languages=LANGUAGES,
                                 current_locale=lambda: _language()[1], now=lambda: datetime.now(UTC))

    @app.context_processor
    def _lang():
        return {"lang": _language()[1]}
