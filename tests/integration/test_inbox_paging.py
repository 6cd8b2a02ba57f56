"""The inbox query on both backends: pages merged across grants in the global order, and the capped count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import caseadmin, services, worklist
from engine.worklist import InboxQuery
from tests.conftest import add_office, add_user, fixture_file

BASE = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)


@pytest.fixture
def two_offices(app):
    """SOP two_steps (step A for Klien with a 2 s standard time, step B for Duta without one) in offices T and U."""
    add_office(app, "U", "Kantor Lain")
    add_user(app, "ana", ("Klien", "T"), ("Klien", "U"))
    add_user(app, "duta", ("Duta", "T"))
    add_user(app, "both", ("Klien", "T"), ("Duta", "T"))
    add_user(app, "pusat", ("Klien", None), ("Klien", "T"))  # every office, and one of them again
    add_user(app, "boss", ("admin", None))
    services.deploy(app.uow(), [fixture_file("two_steps_timer.bpmn")])
    return app


def start(app, n, office):
    case = services.start(app.uow(), "two_steps", actor="ana", office=office,
                          clock=lambda: BASE + timedelta(minutes=n))
    return case, services.show(app.uow(write=False), case.id)["work_items"][0]


def page(app, user, **query):
    result = worklist.inbox_page(app.uow(write=False), user, InboxQuery(**query))
    return [e.item.id for e in result.entries], result


def test_pages_of_two_grants_follow_one_order_across_both(two_offices):
    app = two_offices
    items = [start(app, n, "T" if n % 3 else "U")[1].id for n in range(7)]  # due in the order started
    first, result = page(app, "ana", per_page=3)
    assert first == items[:3] and result.total == 7 and result.pages == 3
    assert page(app, "ana", per_page=3, page=2)[0] == items[3:6]
    assert page(app, "ana", per_page=3, page=3)[0] == items[6:]
    assert page(app, "ana", per_page=3, page=4)[0] == []
    assert page(app, "ana", per_page=3, sort="waiting", page=2)[0] == items[3:6]
    assert page(app, "ana", key="two_steps", per_page=3, page=2)[0] == items[3:6]


def test_a_grant_in_every_office_and_one_in_an_office_list_each_item_once(two_offices):
    app = two_offices
    items = [start(app, n, "TU"[n % 2])[1].id for n in range(4)]
    ids, result = page(app, "pusat")
    assert ids == items and result.total == 4


def test_items_without_a_due_time_come_after_those_with_one_on_both_backends(two_offices):
    app = two_offices
    _, late_b = start(app, 0, "T")
    services.complete(app.uow(), late_b.id, actor="ana", clock=lambda: BASE + timedelta(minutes=1))
    waiting_b = services.show(app.uow(write=False), late_b.instance_id)["work_items"][-1]
    assert waiting_b.step_id == "B" and waiting_b.due_at is None
    _, due_a = start(app, 5, "T")
    assert page(app, "both")[0] == [due_a.id, waiting_b.id]
    assert page(app, "both", sort="waiting")[0] == [waiting_b.id, due_a.id]


def test_the_count_stops_past_its_limit_and_the_pages_go_on_while_they_are_full(two_offices):
    app = two_offices
    items = [start(app, n, "T")[1].id for n in range(6)]
    ids, result = page(app, "ana", per_page=2, count_limit=3)
    assert ids == items[:2]
    assert result.total == 4 and result.more  # "3+": more than the limit, not how many more
    assert result.pages == 2  # the pages the count covers
    second = page(app, "ana", per_page=2, count_limit=3, page=2)[1]
    assert second.pages == 3  # a full page beyond the count: a link to the next one
    third_ids, third = page(app, "ana", per_page=2, count_limit=3, page=3)
    assert third_ids == items[4:] and third.pages == 4
    exact = page(app, "ana", per_page=2, count_limit=6)[1]
    assert exact.total == 6 and not exact.more and exact.pages == 3


def test_a_suspended_case_leaves_the_page_and_the_count(two_offices):
    app = two_offices
    (held, _), (_, kept) = start(app, 0, "T"), start(app, 1, "T")
    caseadmin.suspend(app.uow(), held.id, actor="boss", reason="menunggu berkas")
    ids, result = page(app, "ana")
    assert ids == [kept.id] and result.total == 1


def test_claimed_by_me_and_the_claims_of_others(two_offices):
    app = two_offices
    add_user(app, "ani", ("Klien", "T"))
    mine, theirs, free = (start(app, n, "T")[1].id for n in range(3))
    worklist.claim(app.uow(), mine, actor="ana")
    worklist.claim(app.uow(), theirs, actor="ani")
    assert page(app, "ana", mine=True)[0] == [mine]
    assert page(app, "ana", unclaimed=True)[0] == [free]
    ids, result = page(app, "ana")
    assert ids == [mine, free] and result.total == 2


@pytest.mark.parametrize("query", [InboxQuery(), InboxQuery(sort="waiting"), InboxQuery(overdue=True),
                                   InboxQuery(mine=True), InboxQuery(key="two_steps")])
def test_the_inbox_statements_use_the_ready_items_indexes_when_planned_for_any_parameters(two_offices, query):
    """psycopg prepares a statement run five times, and PostgreSQL may then plan it once for any parameters (a
    generic plan). With the state bound as a parameter that plan could not use the partial indexes (state = 'ready')
    and the capped count read every ready item: 38 ms instead of 1 at 10k cases."""
    if two_offices.engine.dialect.name != "postgresql":
        pytest.skip("plans of prepared statements: PostgreSQL")
    from psycopg import sql
    from sqlalchemy.dialects.postgresql import psycopg

    from adapters import inbox_sql

    case, _ = start(two_offices, 0, "T")
    with two_offices.engine.connect() as conn:  # enough ready and done items for the plans a real inbox gets
        conn.exec_driver_sql(
            "INSERT INTO work_items (id, instance_id, process_key, step_id, step_name, lane, role, office, state, "
            "ready_at, overdue, suspended) SELECT 'w' || g, %s, 'two_steps', 'A', 'A', 'Klien', "
            "CASE WHEN g %% 7 = 0 THEN 'Duta' ELSE 'Klien' END, CASE WHEN g %% 2 = 0 THEN 'T' ELSE 'U' END, "
            "CASE WHEN g %% 3 = 0 THEN 'ready' ELSE 'completed' END, now(), false, false "
            "FROM generate_series(1, 20000) g", (case.id,))
        conn.commit()
        conn.connection.driver_connection.autocommit = True
        conn.exec_driver_sql("VACUUM ANALYZE work_items")
        conn.connection.driver_connection.autocommit = False
    roles = [("T", "Klien"), ("U", "Klien")]
    params = {"user": "ana", "key": query.key, "now": BASE, "count_limit": 501,
              "role_0": "Klien", "office_0": "T", "role_1": "Klien", "office_1": "U"}
    shape = tuple(office is not None for _, office in inbox_sql.grant_pairs(roles))
    dialect = psycopg.dialect(paramstyle="numeric_dollar")
    with two_offices.engine.connect() as conn:
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        # What a plan *can* use, whatever this small table's costs: no whole-table scan unless nothing else works.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_bitmapscan = off")
        for n, statement in enumerate(inbox_sql._statements(shape, bool(query.key), query.overdue, query.mine,
                                                            query.unclaimed, query.sort, query.offset,
                                                            query.per_page)):
            compiled = statement.compile(dialect=dialect)
            values = [params[name] for name in compiled.positiontup]
            conn.exec_driver_sql(f"PREPARE inbox_{n} AS {compiled}")
            literals = ", ".join(sql.Literal(v).as_string(conn.connection.driver_connection) for v in values)
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN EXECUTE inbox_{n}({literals})"))
            assert "ix_work_items_ready" in plan and "Seq Scan on work_items" not in plan, plan
            if n == 0 and not query.mine:  # the count: the index alone, no case
                assert "Index Only Scan" in plan and "instances" not in plan, plan


def test_the_inbox_page_is_planned_once_for_any_user_not_at_every_request(two_offices):
    """Once psycopg has prepared the page's statement (after its 5th run on a connection), PostgreSQL keeps one plan
    for any parameters (a generic plan) after five runs planned for the values given, as it does for every other
    statement of a step. With the page's LIMIT and OFFSET bound as parameters, the generic plan's guess of them
    made it look costlier and PostgreSQL planned the statement anew at every run (here for the grant of one role
    in one office, B3's shape): about 0.7 ms of server CPU per inbox."""
    app = two_offices
    if app.engine.dialect.name != "postgresql":
        pytest.skip("plans of prepared statements: PostgreSQL")
    case, _ = start(app, 0, "T")
    with app.engine.connect() as conn:  # steps done and waiting: a hundred or so waiting per role and office
        conn.exec_driver_sql(
            "INSERT INTO work_items (id, instance_id, process_key, step_id, step_name, lane, role, office, state, "
            "ready_at, due_at, overdue, suspended) SELECT 'w' || g, %s, 'two_steps', 'A', 'A', 'Klien', "
            "CASE WHEN g %% 2 = 0 THEN 'Duta' ELSE 'Klien' END, CASE WHEN g %% 4 < 2 THEN 'T' ELSE 'U' END, "
            "CASE WHEN g %% 5 = 0 THEN 'ready' ELSE 'completed' END, now(), now() + interval '3 hours', false, "
            "false FROM generate_series(1, 2000) g",
            (case.id,))
        conn.commit()  # no ANALYZE: as after a day's work, before autovacuum has been by
    from adapters import inbox_sql

    with app.engine.connect() as conn:  # one connection: prepared statements are per connection
        for user in ["ana", "duta", "pusat"] * 15:  # three shapes of grants: three statements
            with app.uow(write=False) as uow:
                roles = uow.directory.roles_of(user)
            entries, total = inbox_sql.inbox_entries(conn, roles, user, InboxQuery(), BASE)
            assert entries and total >= len(entries)
        plans = conn.exec_driver_sql(
            "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements "
            "WHERE statement LIKE '%%anon_1%%' AND statement LIKE '%%LIMIT%%'").all()  # the page
    assert plans, "the page's statement was never prepared"
    for generic, custom, statement in plans:
        assert custom <= 5 and generic > 0, (generic, custom, statement)
