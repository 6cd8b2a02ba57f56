"""webui/i18n.py writes dates and durations without Flask-Babel's per-call lookups and babel's per-call pattern
parsing: the text must be exactly what babel and Flask-Babel write, in both languages and every zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from flask import Flask, render_template_string
from flask_babel import Babel, force_locale, gettext, ngettext

from engine.notify import ZONE_NAMES
from webui import i18n

ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Asia/Pontianak", "Europe/Amsterdam")
PATTERNS = {"medium": "EEE, d MMM yyyy HH:mm", "short": "d MMM HH:mm"}


@pytest.fixture(scope="module")
def app():
    flask = Flask(__name__)
    i18n.init_app(flask)
    return flask


def moments(count=3000, seed=7):
    """Moments over every month, weekday, hour and minute, across years, New Year and the turn of a day."""
    pick = random.Random(seed)
    start = datetime(1999, 12, 31, 16, 0, tzinfo=UTC)
    found = [start + timedelta(minutes=pick.randrange(0, 40 * 366 * 24 * 60)) for _ in range(count)]
    found += [datetime(2026, 12, 31, 16, 59, tzinfo=UTC), datetime(2026, 12, 31, 17, 0, tzinfo=UTC),
              datetime(2027, 1, 1, 0, 0, tzinfo=UTC), datetime(9, 3, 4, 5, 6, tzinfo=UTC)]
    return found


def old_local_time(moment, timezone="Asia/Jakarta", fmt="medium"):
    """local_time as it was: babel's format_datetime at every call."""
    if moment is None:
        return "–"
    local = moment.astimezone(ZoneInfo(timezone))
    text = format_datetime(local, PATTERNS[fmt], locale=i18n._language()[1])  # noqa: SLF001
    return f"{text} {ZONE_NAMES.get(timezone) or local.strftime('%Z')}"


def old_span(seconds):
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


def old_time_left(due, now):
    delta = (due - now).total_seconds()
    if delta >= 0:
        return gettext("%(span)s left", span=old_span(delta)), False
    return gettext("overdue by %(span)s", span=old_span(delta)), True


@pytest.mark.parametrize("lang", ["id", "en"])
def test_local_time_writes_what_babel_writes(app, lang):
    with app.test_request_context(f"/?lang={lang}"):
        checked = set()
        for moment in moments():
            for zone in ZONES:
                for fmt in PATTERNS:
                    expected = old_local_time(moment, zone, fmt)
                    assert i18n.local_time(moment, zone, fmt) == expected, (moment, zone, fmt)
                    checked.add(expected.split(" ")[0])
        assert i18n.local_time(None) == "–"
    # The months and weekdays of the language were all written (Indonesian: Agu, Okt, Des; Sen, Min...).
    names = {"id": {"Sen,", "Sel,", "Rab,", "Kam,", "Jum,", "Sab,", "Min,"},
             "en": {"Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"}}[lang]
    assert names <= checked


def test_a_pattern_with_other_fields_is_left_to_babel(app):
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=ZoneInfo("Asia/Makassar"))
    assert i18n._date_formatter("id", "EEEE d MMMM y h:mm:ss a zzzz") is None  # noqa: SLF001
    assert i18n._date_formatter("id", PATTERNS["medium"])(moment) == "Rab, 4 Mar 2026 05:06"  # noqa: SLF001
    assert i18n._date_formatter("en", PATTERNS["short"])(moment) == "4 Mar 05:06"  # noqa: SLF001


@pytest.mark.parametrize("lang", ["id", "en"])
def test_durations_and_time_left_read_as_before(app, lang):
    now = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)
    seconds = [0, 1, 59, 60, 61, 119, 3599, 3600, 3601, 7200, 7260, 86399, 86400, 86460, 90000, 172800, 200000,
               31 * 86400 + 3 * 3600 + 59 * 60, 400 * 86400]
    seconds += random.Random(3).sample(range(0, 90 * 86400), 3000)
    with app.test_request_context(f"/?lang={lang}"):
        for value in seconds:
            assert i18n.span(value) == old_span(value)
            assert i18n.span(-value) == old_span(-value)
            for due in (now + timedelta(seconds=value), now - timedelta(seconds=value)):
                assert i18n.time_left(due, now) == old_time_left(due, now)
        assert i18n.span(2 * 86400 + 3 * 3600) == ("2 hari 3 jam" if lang == "id" else "2 days 3 hours")


def test_the_language_follows_force_locale_within_a_request(app):
    with app.test_request_context("/?lang=en"):
        assert i18n.span(3600) == "1 hour"
        with force_locale("id"):
            assert i18n.span(3600) == "1 jam"
            assert render_template_string("{{ _('Overdue') }} {{ lang }}") == "Terlambat id"
        assert i18n.span(3600) == "1 hour"
        assert render_template_string("{{ _('Overdue') }} {{ lang }} {{ current_locale() }}") == "Overdue en en"


def test_templates_translate_with_variables_and_plurals_as_flask_babel_does(app):
    plain = Flask(__name__)  # Flask-Babel's own _() and ngettext() in templates
    plain.config["BABEL_TRANSLATION_DIRECTORIES"] = app.config["BABEL_TRANSLATION_DIRECTORIES"]
    Babel(plain, locale_selector=i18n.select_locale)
    source = ("{{ _('%(span)s left', span='<i>') }}|{{ ngettext('%(num)d day', '%(num)d days', 3) }}|"
              "{{ ngettext('%(num)d day', '%(num)d days', 1) }}|{{ _('Overdue') }}|{{ _('<b>') }}")
    for lang, expected in (("id", "&lt;i&gt; lagi|3 hari|1 hari|Terlambat|<b>"),
                           ("en", "&lt;i&gt; left|3 days|1 day|Overdue|<b>")):
        for flask in (app, plain):
            with flask.test_request_context(f"/?lang={lang}"):
                assert render_template_string(source) == expected


def test_outside_a_request_the_source_strings_are_used():
    assert i18n.span(2 * 3600 + 60) == "2 hours 1 minute"


# The `due` macro the templates used before webui/i18n.py's due() replaced it, word for word.
OLD_DUE_MACRO = """{% macro due(item, timezone) -%}
  {%- if item.due_at -%}
    {%- set left = time_left(item.due_at) -%}
    <span class="due{% if item.overdue or left[1] %} overdue{% endif %}">
      <time datetime="{{ item.due_at.isoformat() }}">{{ item.due_at | local_time(timezone) }}</time>
      {% if item.state == 'ready' %}<small>{{ left[0] }}</small>{% endif %}
      {% if item.overdue or left[1] %}<span class="badge late">{{ _("Overdue") }}</span>{% endif %}
    </span>
  {%- else -%}<span class="muted">–</span>{%- endif -%}
{%- endmacro %}"""


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_due_cell_is_what_the_macro_wrote(app, lang):
    now = datetime.now(UTC)
    items = [SimpleNamespace(due_at=due, overdue=overdue, state=state)
             for due in (None, now + timedelta(hours=2, minutes=30), now + timedelta(days=3), now - timedelta(hours=5),
                         now - timedelta(days=40, hours=1), now + timedelta(seconds=20))
             for overdue in (False, True) for state in ("ready", "completed", "cancelled")]
    with app.test_request_context(f"/?lang={lang}"):
        macro = app.jinja_env.from_string(OLD_DUE_MACRO + "{{ due(item, zone) }}")
        for item in items:
            for zone in ("Asia/Jakarta", "Asia/Jayapura"):
                new = render_template_string("{{ due(item, zone) }}", item=item, zone=zone)
                assert new == macro.render(item=item, zone=zone), (item, zone)
                assert ("badge late" in new) == bool(item.due_at and (item.overdue or item.due_at < now))
