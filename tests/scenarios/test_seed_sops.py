"""Every path of the five seed SOPs, driven through the engine by the demo accounts holding each lane's role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters import demo
from engine import services
from engine.calendar import parse_duration

# The main path of each SOP and its total standard time as DOMAIN.md §4 states it (days, then time in minutes).
MAIN_PATH_TOTAL = {
    "sop_000_layanan_publik": (0, 30),
    "sop_001_standar_pelayanan": (5, 8 * 60),
    "sop_002_kelompok_rentan": (0, 25),
    "sop_003_pengaduan_masyarakat": (0, 290),
    "sop_004_yankomas": (29, 45),
}


@pytest.fixture
def seeded(app):
    demo.seed(app)
    return app


def drive(app, key, decisions=None, office=None):
    """Run one case to its end; return [(step id, lane, user)] in order and the deployment."""
    decisions = {k: list(v) for k, v in (decisions or {}).items()}
    with app.uow(write=False) as uow:
        deployment = uow.deployments.latest(key)
    office = office or deployment.office or demo.TEMPLATE_OFFICE
    starter = demo.demo_username(deployment.start_lanes[0], office)
    case = services.start(app.uow(), key, actor=starter, office=office)
    done = []
    for _ in range(100):
        ready = [w for w in services.show(app.uow(write=False), case.id)["work_items"] if w.state == "ready"]
        if not ready:
            break
        assert len(ready) == 1, "the seed SOPs are sequential: one step at a time"
        item = ready[0]
        step = deployment.step(item.step_id)
        data = {}
        if step.decision:
            data = {step.decision.variable: decisions[item.step_id].pop(0)}
        user = demo.demo_username(item.lane, office)
        services.complete(app.uow(), item.id, actor=user, data=data)
        done.append((item.step_id, item.lane, user))
    shown = services.show(app.uow(write=False), case.id)
    assert shown["instance"].status == "completed"
    assert all(not choices for choices in decisions.values()), "every planned decision was taken"
    actors = [(e.step_id, e.actor) for e in shown["history"] if e.type == "task_completed"]
    assert actors == [(step_id, user) for step_id, _lane, user in done]
    return done, deployment


def standard_time(deployment, step_ids):
    """Sum of the steps' standard times: whole working days and minutes kept apart, as the SOP sheets add them."""
    days = minutes = 0
    for step_id in step_ids:
        sla = deployment.step(step_id).sla
        if sla:
            duration = parse_duration(sla)
            days, minutes = days + duration.days, minutes + duration.seconds / 60
    return days, minutes


def ids(path):
    return [step_id for step_id, _lane, _user in path]


def steps(*numbers):
    return [f"Langkah_{n}" for n in numbers]


def test_sop_000_layanan_publik_runs_its_single_path(seeded):
    path, deployment = drive(seeded, "sop_000_layanan_publik")
    assert path == [
        ("Langkah_1", "Klien", "klien.malut"),
        ("Langkah_2", "Duta Layanan", "duta-layanan.malut"),
        ("Langkah_3", "Duta Layanan", "duta-layanan.malut"),
        ("Langkah_4", "Duta Layanan", "duta-layanan.malut"),
        ("Langkah_5", "Kasubag/Kasubid", "kasubag-kasubid.malut"),
        ("Langkah_6", "Klien", "klien.malut"),
    ]
    assert standard_time(deployment, ids(path)) == MAIN_PATH_TOTAL["sop_000_layanan_publik"]


SOP_001_LANES = {
    1: "Ka Kanwil", 2: "Kadiv Administrasi", 3: "Kabag Program dan Humas", 4: "Kasubbag Program dan Pelaporan",
    5: "Pelaksana", 6: "Kasubbag Program dan Pelaporan", 7: "Pelaksana", 8: "Kasubbag Program dan Pelaporan",
    9: "Kabag Program dan Humas", 10: "Kadiv Administrasi", 11: "Ka Kanwil",
}


@pytest.mark.parametrize(("name", "decisions", "expected"), [
    ("main path", {"Langkah_6": ["Ya"], "Langkah_9": ["Ya"], "Langkah_10": ["Ya"]},
     [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ("draft corrected once (D1 Tidak)", {"Langkah_6": ["Tidak", "Ya"], "Langkah_9": ["Ya"], "Langkah_10": ["Ya"]},
     [1, 2, 3, 4, 5, 6, 5, 6, 7, 8, 9, 10, 11]),
    ("report redone once (D2 Tidak)", {"Langkah_6": ["Ya"], "Langkah_9": ["Tidak", "Ya"], "Langkah_10": ["Ya"]},
     [1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11]),
    ("approval refused once (D3 Tidak)",
     {"Langkah_6": ["Ya"], "Langkah_9": ["Ya", "Ya"], "Langkah_10": ["Tidak", "Ya"]},
     [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9, 10, 11]),
    ("every loop twice", {"Langkah_6": ["Tidak", "Tidak", "Ya"], "Langkah_9": ["Tidak", "Ya", "Ya"],
                          "Langkah_10": ["Tidak", "Ya"]},
     [1, 2, 3, 4, 5, 6, 5, 6, 5, 6, 7, 8, 9, 8, 9, 10, 9, 10, 11]),
])
def test_sop_001_takes_every_review_loop(seeded, name, decisions, expected):
    path, deployment = drive(seeded, "sop_001_standar_pelayanan", decisions)
    assert path == [(f"Langkah_{n}", SOP_001_LANES[n], demo.demo_username(SOP_001_LANES[n], "DKI"))
                    for n in expected], name
    if name == "main path":
        assert standard_time(deployment, ids(path)) == MAIN_PATH_TOTAL["sop_001_standar_pelayanan"]
    else:
        assert standard_time(deployment, ids(path)) > MAIN_PATH_TOTAL["sop_001_standar_pelayanan"]


def test_sop_002_kelompok_rentan_runs_its_single_path(seeded):
    path, deployment = drive(seeded, "sop_002_kelompok_rentan")
    lanes = ["Pemohon", "Petugas Pengamanan", "Duta Pelayanan", "Petugas Pelayanan", "Petugas Pengamanan",
             "Duta Pelayanan"]
    assert path == [(f"Langkah_{n}", lane, demo.demo_username(lane, "DKI")) for n, lane in enumerate(lanes, 1)]
    assert standard_time(deployment, ids(path)) == MAIN_PATH_TOTAL["sop_002_kelompok_rentan"]


def test_sop_003_pengaduan_masyarakat_runs_its_single_path(seeded):
    path, deployment = drive(seeded, "sop_003_pengaduan_masyarakat")
    lanes = ["Pelapor", "Kakanwil", "Kadiv", "Kabag P2", "Kasubag PPHTI", "Kasubag PPHTI", "Kasubag PPHTI",
             "Kabag P2", "Kadiv", "Divisi Terkait", "Kakanwil", "Kadiv", "Kabag P2", "Kasubag PPHTI"]
    assert path == [(f"Langkah_{n}", lane, demo.demo_username(lane, "BABEL")) for n, lane in enumerate(lanes, 1)]
    assert standard_time(deployment, ids(path)) == MAIN_PATH_TOTAL["sop_003_pengaduan_masyarakat"]


SOP_004_LANES = {
    "1": "Masyarakat", "2": "Tim Yankomas", "3": "Tim Yankomas", "4a": "Kakanwil", "4b": "Kadiv Yankum",
    "4c": "Kabid HAM", "4d": "Kasubbid Pemajuan HAM", "5": "Kasubbid Pemajuan HAM", "6": "Kasubbid Pemajuan HAM",
    "7": "Tim Yankomas",
}


@pytest.mark.parametrize(("audiensi", "expected", "total"), [
    ("Ya", ["1", "2", "3", "4a", "4b", "4c", "4d", "5", "6", "7"], (29, 45)),
    ("Tidak", ["1", "2", "3", "4a", "4b", "4c", "4d", "6", "7"], (26, 45)),
])
def test_sop_004_yankomas_holds_an_audience_only_when_the_review_asks_for_one(seeded, audiensi, expected, total):
    path, deployment = drive(seeded, "sop_004_yankomas", {"Langkah_4d": [audiensi]})
    assert path == [(f"Langkah_{n}", SOP_004_LANES[n], demo.demo_username(SOP_004_LANES[n], "BENGKULU"))
                    for n in expected]
    assert standard_time(deployment, ids(path)) == total
    if audiensi == "Ya":
        assert total == MAIN_PATH_TOTAL["sop_004_yankomas"]


def test_a_step_that_overruns_its_standard_time_is_recorded_and_stays_open(seeded):
    app = seeded
    case = services.start(app.uow(), "sop_000_layanan_publik", actor="klien.malut")
    first = services.show(app.uow(write=False), case.id)["work_items"][0]
    services.complete(app.uow(), first.id, actor="klien.malut")
    late = [w for w in services.show(app.uow(write=False), case.id)["work_items"] if w.state == "ready"][0]
    assert late.step_id == "Langkah_2" and late.due_at is not None and not late.overdue
    assert services.fire_due_timers(app.uow, clock=lambda: late.due_at - timedelta(seconds=1)) == 0
    assert services.fire_due_timers(app.uow, clock=lambda: late.due_at + timedelta(seconds=1)) == 1
    shown = services.show(app.uow(write=False), case.id)
    breaches = [e for e in shown["history"] if e.type == "sla_breached"]
    assert [(e.step_id, e.data["sla"]) for e in breaches] == [("Langkah_2", "PT5M")]
    still_open = [w for w in shown["work_items"] if w.state == "ready"]
    assert [(w.id, w.overdue) for w in still_open] == [(late.id, True)]
    # The breach path only records: the work is not copied, and the performer completes it as usual.
    services.complete(app.uow(), late.id, actor="duta-layanan.malut")
    nxt = [w for w in services.show(app.uow(write=False), case.id)["work_items"] if w.state == "ready"]
    assert [w.step_id for w in nxt] == ["Langkah_3"]


def test_sla_deadlines_count_working_time_in_the_office_time_zone(seeded):
    # Maluku Utara is WIT (UTC+9): a 5-minute step made ready on a Saturday is due Monday 07:35 WIT.
    saturday = datetime(2027, 1, 9, 3, 0, tzinfo=UTC)
    case = services.start(seeded.uow(), "sop_000_layanan_publik", actor="klien.malut", clock=lambda: saturday)
    item = services.show(seeded.uow(write=False), case.id)["work_items"][0]
    assert item.due_at == datetime(2027, 1, 10, 22, 35, tzinfo=UTC)
