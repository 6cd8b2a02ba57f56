"""`alur offices …`: offices, their time zone, working hours, and calendar exceptions."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.directory import Office
from engine import calendar as working_calendar
from engine import deadlines, permissions
from engine.clock import utcnow
from engine.errors import AlurError


def _check_timezone(name):
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise AlurError(f"unknown time zone '{name}'; use an IANA name such as Asia/Jakarta, Asia/Makassar or "
                        "Asia/Jayapura") from err


def _day(text):
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise AlurError(f"'{text}' is not a date; write it as YYYY-MM-DD, e.g. 2026-12-24") from err


def _schedule(text):
    try:
        return working_calendar.format_schedule(working_calendar.parse_schedule(text))
    except ValueError as err:
        raise AlurError(f"working hours: {err}") from err


def cmd_add(app, args):
    _check_timezone(args.timezone)
    schedule = _schedule(args.hours) if args.hours else None
    with app.uow() as uow:
        created = uow.directory.office(args.code) is None
        uow.directory.add_office(Office(args.code, args.name, args.timezone, "elapsed" if args.elapsed else "working"))
        if args.hours is not None:
            uow.directory.set_schedule(args.code, schedule)
        saved = uow.directory.office(args.code)
        permissions.audit(uow, permissions.OPERATOR, "office_saved", utcnow(), code=saved.code, name=saved.name,
                          timezone=saved.timezone, time_mode=saved.time_mode, schedule=saved.schedule,
                          created=created)
        uow.commit()
    print(f"office {args.code} saved")
    if args.hours is not None:
        _recomputed(deadlines.recompute(app.uow, args.code))


def cmd_list(app, args):
    with app.uow(write=False) as uow:
        for o in uow.directory.offices():
            print(f"{o.code}  {o.name}  {o.timezone}  {o.time_mode}")


def cmd_day(app, args):
    kind = None if args.kind == "clear" else args.kind
    moved = deadlines.set_office_day(app.uow, args.code, _day(args.day), kind, note=args.note, actor=args.actor)
    print(f"{args.code} {args.day}: " + ({"holiday": "closed (office holiday)", "workday": "a working day",
                                          None: "back to the national calendar"}[kind]))
    _recomputed(moved)


def _recomputed(moved):
    print(f"recomputed {moved} deadline(s) of open steps")


def cmd_calendar(app, args):
    with app.uow(write=False) as uow:
        cal = uow.directory.office_calendar(args.code)
        if cal is None:
            raise AlurError(f"Unknown office '{args.code}'.")
        exceptions = uow.directory.office_days(args.code)
    print(f"{args.code}  {cal.timezone}  durations count {'working time' if cal.mode == 'working' else '24x7'}")
    print(f"hours: {working_calendar.format_schedule(cal.schedule)}")
    year = args.year or date.today().year
    print(f"days off in {year}:")
    day = date(year, 1, 1)
    while day.year == year:
        name = cal.holiday_name(day)
        if name:
            print(f"  {day.isoformat()}  {name}")
        day = date.fromordinal(day.toordinal() + 1)
    for row in exceptions:
        print(f"  office {row.kind}: {row.day.isoformat()}  {row.note or ''}".rstrip())


def add_parser(sub):
    offices = sub.add_parser("offices", help="offices, working hours and calendar exceptions")
    osub = offices.add_subparsers(dest="offices_cmd", required=True)
    add = osub.add_parser("add", help="create or update an office")
    add.add_argument("code")
    add.add_argument("name")
    add.add_argument("--timezone", default="Asia/Jakarta")
    add.add_argument("--elapsed", action="store_true", help="count SLA durations 24x7")
    add.add_argument("--hours", help="working hours, e.g. 'mon-thu 07:30-12:00 13:00-16:00; fri 07:30-11:30 "
                                     "13:00-16:30; sat-sun off' (unmentioned days: national schedule)")
    add.set_defaults(func=cmd_add)
    osub.add_parser("list").set_defaults(func=cmd_list)
    day = osub.add_parser("day", help="mark a day as an office holiday, a working day, or clear the mark; open "
                                      "steps' deadlines are recomputed")
    day.add_argument("code")
    day.add_argument("day", help="YYYY-MM-DD")
    day.add_argument("kind", choices=["holiday", "workday", "clear"])
    day.add_argument("--note")
    day.add_argument("--as", dest="actor")
    day.set_defaults(func=cmd_day)
    cal = osub.add_parser("calendar", help="an office's hours and days off in a year")
    cal.add_argument("code")
    cal.add_argument("--year", type=int)
    cal.set_defaults(func=cmd_calendar)
