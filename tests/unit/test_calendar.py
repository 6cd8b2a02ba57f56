"""Working-time arithmetic: schedules, holidays, time zones and ISO durations (expectations written out)."""

import time as clock
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from engine.calendar import (
    NATIONAL_SCHEDULE,
    Duration,
    OfficeCalendar,
    WorkingHours,
    add_working_time,
    describe,
    format_schedule,
    next_working_instant,
    parse_duration,
    parse_schedule,
    working_seconds_between,
)

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
UTC = UTC
JAKARTA = OfficeCalendar()
ELAPSED = OfficeCalendar(mode="elapsed")


def wib(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=WIB)


def utc(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


# --- schedule and holidays -------------------------------------------------------------------------------


def test_the_national_schedule_is_37_and_a_half_hours_a_week():
    assert sum(NATIONAL_SCHEDULE[d].seconds for d in range(7)) == 37.5 * 3600
    assert NATIONAL_SCHEDULE[4].intervals == ((time(7, 30), time(11, 30)), (time(13, 0), time(16, 30)))
    assert NATIONAL_SCHEDULE[5].intervals == () and NATIONAL_SCHEDULE[6].intervals == ()


def test_the_2026_holidays_and_cuti_bersama_match_the_joint_decree():
    libur = {
        date(2026, 1, 1), date(2026, 1, 16), date(2026, 2, 17), date(2026, 3, 19), date(2026, 3, 21),
        date(2026, 3, 22), date(2026, 4, 3), date(2026, 4, 5), date(2026, 5, 1), date(2026, 5, 14),
        date(2026, 5, 27), date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 16), date(2026, 8, 17),
        date(2026, 8, 25), date(2026, 12, 25),
    }
    cuti_bersama = {
        date(2026, 2, 16), date(2026, 3, 18), date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24),
        date(2026, 5, 15), date(2026, 5, 28), date(2026, 12, 24),
    }
    days_2026 = [date.fromordinal(n) for n in range(date(2026, 1, 1).toordinal(), date(2027, 1, 1).toordinal())]
    assert {d for d in days_2026 if JAKARTA.is_holiday(d)} == libur | cuti_bersama


def test_holiday_names_are_in_indonesian():
    assert JAKARTA.holiday_name(date(2026, 8, 17)) == "Hari Kemerdekaan Republik Indonesia"
    assert JAKARTA.holiday_name(date(2026, 12, 24)) == "Cuti Bersama Hari Raya Natal"
    assert JAKARTA.holiday_name(date(2026, 8, 18)) is None


def test_weekends_and_holidays_are_not_working_days():
    assert JAKARTA.is_working_day(date(2026, 7, 10))  # Friday
    assert not JAKARTA.is_working_day(date(2026, 7, 11))  # Saturday
    assert not JAKARTA.is_working_day(date(2026, 7, 12))  # Sunday
    assert not JAKARTA.is_working_day(date(2026, 8, 17))  # Monday, Independence Day


def test_working_intervals_are_aware_local_datetimes():
    assert JAKARTA.working_intervals(date(2026, 7, 10)) == [
        (wib(2026, 7, 10, 7, 30), wib(2026, 7, 10, 11, 30)),
        (wib(2026, 7, 10, 13, 0), wib(2026, 7, 10, 16, 30)),
    ]
    assert JAKARTA.working_intervals(date(2026, 7, 10))[0][0].tzinfo == WIB
    assert JAKARTA.working_intervals(date(2026, 7, 11)) == []
    assert JAKARTA.working_intervals(date(2026, 8, 17)) == []


# --- add_working_time ------------------------------------------------------------------------------------


def test_results_are_in_utc():
    due = add_working_time(wib(2026, 7, 13, 10), "PT1H", JAKARTA)
    assert due.tzinfo == UTC and due == utc(2026, 7, 13, 4)


def test_two_days_from_monday_morning_is_wednesday_morning():
    assert add_working_time(wib(2026, 7, 13, 10), "P2D", JAKARTA) == wib(2026, 7, 15, 10)


def test_two_days_from_friday_afternoon_skip_the_weekend():
    assert add_working_time(wib(2026, 7, 10, 14), "P2D", JAKARTA) == wib(2026, 7, 14, 14)


def test_working_hours_left_on_friday_continue_on_monday():
    assert add_working_time(wib(2026, 7, 10, 16), "PT1H", JAKARTA) == wib(2026, 7, 13, 8)


def test_a_national_holiday_monday_is_skipped():
    assert add_working_time(wib(2026, 8, 14, 10), "P1D", JAKARTA) == wib(2026, 8, 18, 10)
    assert add_working_time(wib(2026, 8, 14, 16), "PT1H", JAKARTA) == wib(2026, 8, 18, 8)


def test_cuti_bersama_before_christmas_is_skipped():
    # 24 Dec (Thu) cuti bersama, 25 Dec (Fri) Christmas, then the weekend.
    assert add_working_time(wib(2026, 12, 23, 10), "P1D", JAKARTA) == wib(2026, 12, 28, 10)


def test_friday_has_a_ninety_minute_break():
    assert add_working_time(wib(2026, 7, 10, 11), "PT1H", JAKARTA) == wib(2026, 7, 10, 13, 30)


def test_a_step_started_after_hours_counts_from_the_next_morning():
    assert add_working_time(wib(2026, 7, 13, 17), "PT30M", JAKARTA) == wib(2026, 7, 14, 8)


def test_a_step_started_during_lunch_counts_from_one_o_clock():
    assert add_working_time(wib(2026, 7, 13, 12, 15), "PT1H", JAKARTA) == wib(2026, 7, 13, 14)
    assert add_working_time(wib(2026, 7, 13, 12, 15), "P1D", JAKARTA) == wib(2026, 7, 14, 13)


def test_three_hours_from_ten_span_lunch():
    assert add_working_time(wib(2026, 7, 13, 10), "PT3H", JAKARTA) == wib(2026, 7, 13, 14)


def test_time_ending_exactly_at_closing_stays_on_that_day():
    assert add_working_time(wib(2026, 7, 13, 15, 30), "PT30M", JAKARTA) == wib(2026, 7, 13, 16)


def test_the_day_part_comes_before_the_time_part():
    # Tue 15:00, one hour to 16:00, the second hour from Wed 07:30.
    assert add_working_time(wib(2026, 7, 13, 15), "P1DT2H", JAKARTA) == wib(2026, 7, 15, 8, 30)


def test_a_day_part_landing_after_closing_moves_to_the_next_opening():
    # Friday 16:15 is working time, Monday 16:15 is not (Monday closes 16:00): due Tuesday 07:30.
    assert add_working_time(wib(2026, 7, 10, 16, 15), "P1D", JAKARTA) == wib(2026, 7, 14, 7, 30)


def test_a_weekend_start_with_a_day_part_counts_from_monday_opening():
    assert add_working_time(wib(2026, 7, 11, 10), "P1D", JAKARTA) == wib(2026, 7, 14, 7, 30)


def test_the_same_local_clock_is_a_different_utc_instant_in_wib_and_wit():
    jayapura = OfficeCalendar(timezone="Asia/Jayapura")
    assert add_working_time(wib(2026, 7, 13, 10), "PT1H", JAKARTA) == utc(2026, 7, 13, 4)
    assert add_working_time(datetime(2026, 7, 13, 10, tzinfo=WIT), "PT1H", jayapura) == utc(2026, 7, 13, 2)


def test_the_office_time_zone_decides_what_is_after_hours():
    # 09:30 UTC Monday is 16:30 WIB (closed: due Tue 08:00 WIB) but 18:30 WIT (closed: due Tue 08:00 WIT);
    # 06:30 UTC is 13:30 WIB (45 min fit: 14:15 WIB) and 15:30 WIT (30 min left: Tue 07:45 WIT = Mon 22:45 UTC).
    jayapura = OfficeCalendar(timezone="Asia/Jayapura")
    assert add_working_time(utc(2026, 7, 13, 9, 30), "PT30M", JAKARTA) == utc(2026, 7, 14, 1)
    assert add_working_time(utc(2026, 7, 13, 9, 30), "PT30M", jayapura) == utc(2026, 7, 13, 23)
    assert add_working_time(utc(2026, 7, 13, 6, 30), "PT45M", JAKARTA) == utc(2026, 7, 13, 7, 15)
    assert add_working_time(utc(2026, 7, 13, 6, 30), "PT45M", jayapura) == utc(2026, 7, 13, 22, 45)


def test_three_days_across_the_year_end():
    # 31 Dec works; 1 Jan 2027 (Fri) New Year; 4 Jan works; 5 Jan 2027 Isra Mikraj (holidays 0.108); 6 Jan.
    assert add_working_time(wib(2026, 12, 30, 10), "P3D", JAKARTA) == wib(2027, 1, 6, 10)


def test_an_office_can_add_its_own_day_off():
    office = OfficeCalendar(added_holidays=frozenset({date(2026, 7, 14)}))
    assert office.is_holiday(date(2026, 7, 14))
    assert office.holiday_name(date(2026, 7, 14)) == "Libur kantor"
    assert add_working_time(wib(2026, 7, 13, 10), "P1D", office) == wib(2026, 7, 15, 10)


def test_an_office_can_work_on_a_national_holiday():
    office = OfficeCalendar(removed_holidays=frozenset({date(2026, 8, 17)}))
    assert not office.is_holiday(date(2026, 8, 17))
    assert office.holiday_name(date(2026, 8, 17)) is None
    assert add_working_time(wib(2026, 8, 14, 10), "P1D", office) == wib(2026, 8, 17, 10)


def test_elapsed_mode_counts_round_the_clock():
    assert add_working_time(wib(2026, 7, 10, 16), "P1DT2H", ELAPSED) == wib(2026, 7, 11, 18)
    assert add_working_time(wib(2026, 7, 13, 17), "PT30M", ELAPSED) == wib(2026, 7, 13, 17, 30)
    assert add_working_time(wib(2026, 12, 23, 10), "P1D", ELAPSED) == wib(2026, 12, 24, 10)


def test_zero_duration_is_the_start_or_the_next_working_instant():
    assert add_working_time(wib(2026, 7, 11, 10), "PT0S", ELAPSED) == utc(2026, 7, 11, 3)
    assert add_working_time(wib(2026, 7, 11, 10), Duration(), JAKARTA) == wib(2026, 7, 13, 7, 30)
    assert add_working_time(wib(2026, 7, 13, 10), Duration(), JAKARTA) == wib(2026, 7, 13, 10)
    assert next_working_instant(wib(2026, 7, 13, 16), JAKARTA) == wib(2026, 7, 14, 7, 30)


def test_twenty_two_working_days_is_fast():
    begun = clock.perf_counter()
    assert add_working_time(wib(2026, 7, 13, 10), "P22D", JAKARTA) == wib(2026, 8, 12, 10)
    assert clock.perf_counter() - begun < 0.5


def test_two_hundred_working_hours_is_fast_and_skips_a_holiday():
    # Five full weeks = 187.5 h to Fri 14 Aug; 17 Aug is a holiday; Tue 18 Aug 7.5 h; 5 h more on Wed 19 Aug.
    begun = clock.perf_counter()
    assert add_working_time(wib(2026, 7, 13, 7, 30), "PT200H", JAKARTA) == wib(2026, 8, 19, 13, 30)
    assert clock.perf_counter() - begun < 0.5


def test_a_calendar_without_working_time_raises_instead_of_looping():
    closed = OfficeCalendar(timezone="Asia/Makassar", schedule={d: WorkingHours() for d in range(7)})
    with pytest.raises(ValueError, match="Asia/Makassar"):
        add_working_time(wib(2026, 7, 13, 10), "PT1H", closed)
    with pytest.raises(ValueError, match="Asia/Makassar"):
        add_working_time(wib(2026, 7, 13, 10), "P1D", closed)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_time(datetime(2026, 7, 13, 10), "PT1H", JAKARTA)


def test_bad_calendar_settings_are_refused():
    with pytest.raises(ValueError, match="mode"):
        OfficeCalendar(mode="weekly")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        OfficeCalendar(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="end after"):
        WorkingHours(((time(13, 0), time(12, 0)),))
    with pytest.raises(ValueError, match="overlap"):
        WorkingHours(((time(8, 0), time(12, 0)), (time(11, 0), time(14, 0))))


def test_calendars_are_hashable_and_compare_by_value():
    assert OfficeCalendar() == OfficeCalendar(timezone="Asia/Jakarta")
    assert hash(OfficeCalendar()) == hash(OfficeCalendar())


# --- durations -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("PT5M", Duration(0, 300)),
        ("PT3H", Duration(0, 10800)),
        ("P2D", Duration(2, 0)),
        ("P1DT2H", Duration(1, 7200)),
        ("P1W", Duration(7, 0)),
        ("PT2S", Duration(0, 2)),
        ("PT1H30M", Duration(0, 5400)),
        ("PT1.5H", Duration(0, 5400)),
        (" pt5m ", Duration(0, 300)),
    ],
)
def test_parse_duration_reads_iso_8601(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "5M", "P1DT", "PT-5M", "-PT5M", "P1.5D", "PT5X", "abc"])
def test_parse_duration_refuses_malformed_text(text):
    with pytest.raises(ValueError, match="not an ISO-8601 duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["P1M", "P1Y", "P1Y2D", "P2MT3H"])
def test_parse_duration_refuses_months_and_years_clearly(text):
    with pytest.raises(ValueError, match="months/years are not supported for SLA durations"):
        parse_duration(text)


def test_durations_print_back_as_iso_text():
    assert str(Duration(1, 7200)) == "P1DT2H"
    assert str(parse_duration("PT90M")) == "PT1H30M"
    assert str(parse_duration("P1W")) == "P7D"
    assert str(Duration(0, 2)) == "PT2S"
    assert str(Duration()) == "PT0S"


def test_negative_durations_are_refused():
    with pytest.raises(ValueError):
        Duration(days=-1)


# --- working_seconds_between and describe -----------------------------------------------------------------


def test_working_seconds_between_skips_lunch():
    assert working_seconds_between(wib(2026, 7, 13, 10), wib(2026, 7, 13, 14), JAKARTA) == 3 * 3600


def test_working_seconds_between_skips_the_weekend_and_a_holiday():
    assert working_seconds_between(wib(2026, 7, 10, 16), wib(2026, 7, 13, 8), JAKARTA) == 3600
    assert working_seconds_between(wib(2026, 8, 14, 16), wib(2026, 8, 18, 8), JAKARTA) == 3600


def test_working_seconds_between_is_zero_when_end_is_not_after_start():
    assert working_seconds_between(wib(2026, 7, 13, 14), wib(2026, 7, 13, 10), JAKARTA) == 0
    assert working_seconds_between(wib(2026, 7, 11, 8), wib(2026, 7, 11, 15), JAKARTA) == 0


def test_working_seconds_between_in_elapsed_mode_is_wall_time():
    assert working_seconds_between(wib(2026, 7, 10, 16), wib(2026, 7, 11, 16), ELAPSED) == 86400


@pytest.mark.parametrize(
    "duration, text",
    [
        ("PT5M", "5 menit"),
        ("PT3H", "3 jam"),
        ("P2D", "2 hari"),
        ("P1DT2H", "1 hari 2 jam"),
        ("PT1H30M", "1 jam 30 menit"),
        (Duration(0, 30), "30 detik"),
        (Duration(), "0 menit"),
    ],
)
def test_describe_speaks_indonesian(duration, text):
    assert describe(duration) == text


def test_an_office_schedule_overrides_named_days_and_keeps_the_national_hours_elsewhere():
    schedule = parse_schedule("fri 07:30-11:30 13:30-17:00; sab 08:00-12:00")
    assert schedule[4].intervals == ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0)))
    assert schedule[5].intervals == ((time(8, 0), time(12, 0)),)
    assert schedule[0] == NATIONAL_SCHEDULE[0]
    assert parse_schedule(format_schedule(schedule)) == schedule


@pytest.mark.parametrize("text, says", [
    ("xyz 08:00-09:00", "unknown day"),
    ("mon 9-10", "not a working period"),
    ("mon", "names no hours"),
    ("mon-sun off", "no working hours on any day"),
    ("fri-mon 08:00-12:00", "runs backwards"),
    ("mon 12:00-08:00", "must end after it starts"),
    ("mon 25:00-26:00", "not a time of day"),
])
def test_a_bad_schedule_is_refused_with_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        parse_schedule(text)
