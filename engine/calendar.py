"""Working-time arithmetic per office: schedules, Indonesian holidays, SLA due times (pure, no I/O)."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "WorkingHours",
    "NATIONAL_SCHEDULE",
    "OfficeCalendar",
    "Duration",
    "parse_duration",
    "add_working_time",
    "next_working_instant",
    "working_seconds_between",
    "describe",
]

MODES = ("working", "elapsed")
# A calendar with no working day in this many consecutive days is treated as broken, not searched forever.
_SEARCH_LIMIT_DAYS = 3 * 366
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkingHours:
    """One weekday's schedule as sorted, non-overlapping local (start, end) intervals."""

    intervals: tuple[tuple[time, time], ...] = ()

    def __post_init__(self):
        spans = tuple((s, e) for s, e in self.intervals)
        for i, (s, e) in enumerate(spans):
            if not (isinstance(s, time) and isinstance(e, time)) or s.tzinfo or e.tzinfo:
                raise ValueError("working hours must be naive local datetime.time values")
            if s >= e:
                raise ValueError(f"working interval {s:%H:%M}-{e:%H:%M} must end after it starts")
            if i and s < spans[i - 1][1]:
                raise ValueError("working intervals must be sorted and must not overlap")
        object.__setattr__(self, "intervals", spans)

    @property
    def seconds(self) -> float:
        """Total working seconds in this day's schedule."""
        today = date(2000, 1, 1)
        return sum((datetime.combine(today, e) - datetime.combine(today, s)).total_seconds() for s, e in self.intervals)


_MON_THU = WorkingHours(((time(7, 30), time(12, 0)), (time(13, 0), time(16, 0))))
# Perpres 21/2023: 37.5 h/week from 07.30; Friday's break is 90 min (Friday prayer), so Friday ends at 16.30.
NATIONAL_SCHEDULE: dict[int, WorkingHours] = {
    0: _MON_THU,
    1: _MON_THU,
    2: _MON_THU,
    3: _MON_THU,
    4: WorkingHours(((time(7, 30), time(11, 30)), (time(13, 0), time(16, 30)))),
    5: WorkingHours(),
    6: WorkingHours(),
}


@functools.cache
def _national_holidays(year: int) -> Mapping[date, str]:
    """Indonesian libur nasional (public) and cuti bersama (government) of one year, Indonesian names."""
    # Copy into a read-only plain mapping: a HolidayBase auto-expands years on lookup, which would mutate the cache.
    found = holidays.country_holidays("ID", years=year, categories=("public", "government"), language="id")
    return MappingProxyType(dict(found.items()))


@dataclass(frozen=True)
class OfficeCalendar:
    """An office's working calendar: time zone, weekly schedule, national holidays plus local edits."""

    timezone: str = "Asia/Jakarta"
    # hash=False: the schedule is a (unhashable) mapping; equality still compares it.
    schedule: Mapping[int, WorkingHours] = field(default_factory=lambda: NATIONAL_SCHEDULE, hash=False)
    added_holidays: frozenset[date] = frozenset()
    removed_holidays: frozenset[date] = frozenset()
    mode: str = "working"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"calendar mode must be one of {MODES}, not {self.mode!r}")
        try:  # fail at construction, not at the first deadline
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r} (use an IANA name such as Asia/Jakarta)") from exc
        object.__setattr__(self, "added_holidays", frozenset(self.added_holidays))
        object.__setattr__(self, "removed_holidays", frozenset(self.removed_holidays))

    def tz(self) -> ZoneInfo:
        """The office's time zone."""
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: date) -> bool:
        """True on a national holiday or cuti bersama (plus added, minus removed office days)."""
        if day in self.removed_holidays:
            return False
        return day in self.added_holidays or day in _national_holidays(day.year)

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name, 'Libur kantor' for an office-only day off, None on a normal day."""
        if day in self.removed_holidays:
            return None
        name = _national_holidays(day.year).get(day)
        if name is None and day in self.added_holidays:
            return "Libur kantor"
        return name

    def is_working_day(self, day: date) -> bool:
        """True if the weekday has working hours and the day is not a holiday."""
        hours = self.schedule.get(day.weekday())
        return bool(hours and hours.intervals) and not self.is_holiday(day)

    def working_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's work periods as aware local datetimes ([] on a non-working day)."""
        if not self.is_working_day(day):
            return []
        tz = self.tz()
        return [
            (datetime.combine(day, s, tzinfo=tz), datetime.combine(day, e, tzinfo=tz))
            for s, e in self.schedule[day.weekday()].intervals
        ]


@dataclass(frozen=True)
class Duration:
    """An SLA duration: whole (working) days plus a time part in seconds."""

    days: int = 0
    seconds: float = 0

    def __post_init__(self):
        if isinstance(self.days, bool) or not isinstance(self.days, int):
            raise ValueError("duration days must be a whole number")
        if self.days < 0 or self.seconds < 0:
            raise ValueError("durations cannot be negative")

    def __bool__(self) -> bool:
        return bool(self.days or self.seconds)

    def __str__(self) -> str:
        hours, rest = divmod(self.seconds, 3600)
        minutes, secs = divmod(rest, 60)
        text = "P" + (f"{self.days}D" if self.days else "")
        clock = "".join(
            f"{_num(value)}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if value
        )
        if clock:
            text += "T" + clock
        return text if text != "P" else "PT0S"


def total_standard_time(slas) -> tuple[Duration, int]:
    """The standard times of a path added up (working days and time kept apart), and how many steps have none."""
    total, missing = Duration(), 0
    for sla in slas:
        try:
            part = parse_duration(sla) if sla else None
        except ValueError:  # a duration in months: a timer, not a standard time
            part = None
        missing += part is None
        if part:
            total = Duration(total.days + part.days, total.seconds + part.seconds)
    return total, missing


def _num(value: float) -> str:
    """A number without a useless '.0' or trailing zeros."""
    return str(int(value)) if float(value).is_integer() else f"{value:.6f}".rstrip("0").rstrip(".")


_DURATION_RE = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<secs>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(text: str) -> Duration:
    """Parse an ISO-8601 duration such as 'PT5M', 'P2D', 'P1DT2H' or 'P1W'."""
    if isinstance(text, Duration):
        return text
    raw = str(text).strip().upper().replace(",", ".")
    match = _DURATION_RE.fullmatch(raw)
    if not match or raw in ("P", "PT") or raw.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO-8601 duration (examples: PT5M, PT3H, P2D, P1DT2H)")
    parts = match.groupdict()
    if parts["years"] or parts["months"]:
        # A month is not a fixed number of working days; SOP times are given in menit/jam/hari.
        raise ValueError(f"{text!r}: months/years are not supported for SLA durations (use days or weeks)")
    days = 7 * int(parts["weeks"] or 0) + int(parts["days"] or 0)
    seconds = (
        float(parts["hours"] or 0) * 3600 + float(parts["minutes"] or 0) * 60 + float(parts["secs"] or 0)
    )
    return Duration(days=days, seconds=int(seconds) if seconds.is_integer() else seconds)


def _as_duration(duration: Duration | str) -> Duration:
    """Accept a Duration or its ISO text."""
    return duration if isinstance(duration, Duration) else parse_duration(duration)


def _check_aware(moment: datetime, name: str) -> None:
    """Refuse naive datetimes: a wall-clock time without an office is ambiguous."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def _working_days(calendar: OfficeCalendar, first: date) -> Iterator[date]:
    """Working days from `first` on; raises ValueError after a long stretch without one."""
    day, idle = first, 0
    while True:
        if calendar.is_working_day(day):
            idle = 0
            yield day
        else:
            idle += 1
            if idle > _SEARCH_LIMIT_DAYS:
                raise ValueError(
                    f"office calendar {calendar.timezone} has no working time in the 3 years after {first}"
                )
        day += _ONE_DAY


def _intervals_from(calendar: OfficeCalendar, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    """UTC working intervals ending after `moment`, clipped to start no earlier than it."""
    local_day = moment.astimezone(calendar.tz()).date()
    for day in _working_days(calendar, local_day):
        for start, end in calendar.working_intervals(day):
            start, end = start.astimezone(UTC), end.astimezone(UTC)
            if end > moment:
                yield max(start, moment), end


def next_working_instant(moment: datetime, calendar: OfficeCalendar) -> datetime:
    """The first working instant at or after `moment` (UTC); an interval's end counts as after hours."""
    _check_aware(moment, "moment")
    moment = moment.astimezone(UTC)
    if calendar.mode == "elapsed":
        return moment
    start, _ = next(_intervals_from(calendar, moment))
    return start


def add_working_time(start: datetime, duration: Duration | str, calendar: OfficeCalendar) -> datetime:
    """Due time (UTC) of a step that starts at `start` and takes `duration` on `calendar`."""
    _check_aware(start, "start")
    duration = _as_duration(duration)
    start = start.astimezone(UTC)
    if calendar.mode == "elapsed":
        return start + timedelta(days=duration.days, seconds=duration.seconds)

    # A step started out of hours (evening, weekend, break) starts counting when the office opens.
    moment = next_working_instant(start, calendar)

    if duration.days:
        # Day part: the same local clock time N working days later. If that clock time is outside the target
        # day's hours (e.g. Friday 16:15 -> Monday ends 16:00, or a break that differs by weekday) we move
        # *forward* to the next working instant: an SLA should never grant less than N full working days.
        tz = calendar.tz()
        local = moment.astimezone(tz)
        later_days = _working_days(calendar, local.date() + _ONE_DAY)
        target_day = next(itertools.islice(later_days, duration.days - 1, None))
        target = datetime.combine(target_day, local.time(), tzinfo=tz)
        moment = next_working_instant(target, calendar)

    remaining = timedelta(seconds=duration.seconds)
    if not remaining:
        return moment
    # Time part: consume whole intervals until the remainder fits; a loop per interval, never per minute.
    for begin, end in _intervals_from(calendar, moment):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("unreachable: _intervals_from is infinite or raises")


def working_seconds_between(start: datetime, end: datetime, calendar: OfficeCalendar) -> float:
    """Working seconds elapsed between two instants (0 if end <= start)."""
    _check_aware(start, "start")
    _check_aware(end, "end")
    if end <= start:
        return 0.0
    if calendar.mode == "elapsed":
        return (end - start).total_seconds()
    tz = calendar.tz()
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    total = 0.0
    while day <= last:
        for begin, finish in calendar.working_intervals(day):
            overlap = min(finish, end) - max(begin, start)
            if overlap > timedelta(0):
                total += overlap.total_seconds()
        day += _ONE_DAY
    return total


def describe(duration: Duration | str) -> str:
    """Indonesian text for a duration: '5 menit', '3 jam', '2 hari', '1 hari 2 jam'."""
    duration = _as_duration(duration)
    hours, rest = divmod(duration.seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{_num(value)} {unit}"
        for value, unit in ((duration.days, "hari"), (hours, "jam"), (minutes, "menit"), (secs, "detik"))
        if value
    ]
    return " ".join(parts) or "0 menit"


_DAY_NAMES = {name: i for i, names in enumerate(
    [("mon", "sen", "senin"), ("tue", "sel", "selasa"), ("wed", "rab", "rabu"), ("thu", "kam", "kamis"),
     ("fri", "jum", "jumat"), ("sat", "sab", "sabtu"), ("sun", "min", "minggu")]) for name in names}
_SPAN_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _days(text: str) -> list[int]:
    first, _, last = text.partition("-")
    if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
        raise ValueError(f"unknown day '{text}' (use mon…sun or sen…min, or a range such as mon-thu)")
    start, end = _DAY_NAMES[first], _DAY_NAMES[last or first]
    if end < start:
        raise ValueError(f"the day range '{text}' runs backwards")
    return list(range(start, end + 1))


def parse_schedule(text: str) -> dict[int, WorkingHours]:
    """Working hours per weekday from text like 'mon-thu 07:30-12:00 13:00-16:00; fri 07:30-11:30; sat-sun off'.

    Days the text does not mention keep the national schedule.
    """
    schedule = dict(NATIONAL_SCHEDULE)
    for part in filter(None, (p.strip().lower() for p in str(text).split(";"))):
        words = part.split()
        spans = []
        for word in words[1:]:
            match = _SPAN_RE.match(word)
            if word == "off" and len(words) == 2:
                break
            if not match:
                raise ValueError(f"'{word}' is not a working period like 07:30-12:00 (or 'off')")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
                raise ValueError(f"'{word}' is not a time of day")
            spans.append((time(h1, m1), time(h2, m2)))
        if len(words) < 2:
            raise ValueError(f"'{part}' names no hours; write e.g. 'fri 07:30-11:30 13:00-16:30' or 'sat off'")
        hours = WorkingHours(tuple(spans))
        for day in _days(words[0]):
            schedule[day] = hours
    if not any(h.intervals for h in schedule.values()):
        raise ValueError("the schedule has no working hours on any day")
    return schedule


def format_schedule(schedule: Mapping[int, WorkingHours]) -> str:
    """The text parse_schedule reads, one weekday per part."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    parts = []
    for day in range(7):
        hours = schedule.get(day, WorkingHours())
        spans = " ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in hours.intervals) or "off"
        parts.append(f"{names[day]} {spans}")
    return "; ".join(parts)
