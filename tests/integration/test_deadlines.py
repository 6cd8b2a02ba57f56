"""Deadlines follow the office calendar: editing its days off moves the due times of open steps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine import deadlines, services
from tests.conftest import add_office, add_user, fixture_file

WIB = ZoneInfo("Asia/Jakarta")


def one_day_sla(process_id: str, mode: str | None = None) -> tuple[str, bytes]:
    name, data = fixture_file("two_steps_timer.bpmn")
    text = data.decode().replace("PT2S", "P1D").replace('id="two_steps"', f'id="{process_id}"')
    if mode:
        text = text.replace(f'id="{process_id}" isExecutable="true">',
                            f'id="{process_id}" isExecutable="true"><bpmn:extensionElements><camunda:properties>'
                            f'<camunda:property name="mode_waktu" value="{mode}"/></camunda:properties>'
                            '</bpmn:extensionElements>')
        text = text.replace('xmlns:bpmn=', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:bpmn=', 1)
    return f"{process_id}.bpmn", text.encode()


@pytest.fixture
def office(app):
    add_office(app, "W", "Kantor Kerja", time_mode="working")
    add_user(app, "ana", ("Klien", "W"))
    services.deploy(app.uow(), [one_day_sla("sehari")], office="W")
    services.deploy(app.uow(), [one_day_sla("sehari_kalender", "kalender")], office="W")
    return app


def due_of(app, case):
    shown = services.show(app.uow(write=False), case.id)
    [item] = [w for w in shown["work_items"] if w.state == "ready"]
    [timer] = shown["timers"]
    assert timer.due_at == item.due_at
    return item.due_at.astimezone(WIB)


def test_an_office_holiday_moves_open_deadlines_and_clearing_it_moves_them_back(office):
    app = office
    thursday_9 = datetime(2027, 1, 7, 9, 0, tzinfo=WIB)
    case = services.start(app.uow(), "sehari", actor="ana", clock=lambda: thursday_9.astimezone(UTC))
    assert due_of(app, case) == datetime(2027, 1, 8, 9, 0, tzinfo=WIB)
    moved = deadlines.set_office_day(app.uow, "W", date(2027, 1, 8), "holiday", note="Rapat kerja")
    assert moved == 1
    assert due_of(app, case) == datetime(2027, 1, 11, 9, 0, tzinfo=WIB)  # Friday off: Monday
    history = [e.type for e in services.show(app.uow(write=False), case.id)["history"]]
    assert history[-1] == "deadlines_recomputed"
    assert deadlines.set_office_day(app.uow, "W", date(2027, 1, 8), None) == 1
    assert due_of(app, case) == datetime(2027, 1, 8, 9, 0, tzinfo=WIB)
    assert deadlines.set_office_day(app.uow, "W", date(2027, 3, 1), "holiday") == 0  # nothing open then


def test_an_sop_can_count_its_standard_times_round_the_clock(office):
    app = office
    friday_9 = datetime(2027, 1, 8, 9, 0, tzinfo=WIB)
    working = services.start(app.uow(), "sehari", actor="ana", clock=lambda: friday_9.astimezone(UTC))
    elapsed = services.start(app.uow(), "sehari_kalender", actor="ana", clock=lambda: friday_9.astimezone(UTC))
    assert due_of(app, working) == datetime(2027, 1, 11, 9, 0, tzinfo=WIB)
    assert due_of(app, elapsed) == datetime(2027, 1, 9, 9, 0, tzinfo=WIB)
    deadlines.set_office_day(app.uow, "W", date(2027, 1, 11), "holiday")
    assert due_of(app, working) == datetime(2027, 1, 12, 9, 0, tzinfo=WIB)
    assert due_of(app, elapsed) == datetime(2027, 1, 9, 9, 0, tzinfo=WIB)


def test_a_national_holiday_the_office_works_on_counts_as_a_working_day(office):
    app = office
    # 2027-01-01 (Friday) is Tahun Baru; the day before, Thursday 31 December, 15:00.
    start = datetime(2026, 12, 31, 15, 0, tzinfo=WIB)
    case = services.start(app.uow(), "sehari", actor="ana", clock=lambda: start.astimezone(UTC))
    assert due_of(app, case) == datetime(2027, 1, 4, 15, 0, tzinfo=WIB)
    deadlines.set_office_day(app.uow, "W", date(2027, 1, 1), "workday")
    assert due_of(app, case) == datetime(2027, 1, 1, 15, 0, tzinfo=WIB)
