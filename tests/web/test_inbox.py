"""Tugas Saya: who sees which work items, the filters, sorting and paging; claiming, releasing and reassigning."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.web.helpers import (
    SOP000,
    SOP001,
    clock_at,
    flashes,
    inbox_rows,
    inbox_total,
    is_local,
    location,
    sneaky_targets,
    text,
)

HEAD = "Ka Kanwil"  # the start lane of the SOP 001 template; its first step is for the same role
KADIV = "Kadiv Administrasi"  # the lane of SOP 001's second step (standard time 15 minutes)


@dataclass
class Team:
    office: str
    far_office: str
    head: str  # Ka Kanwil here
    deputy: str  # another Ka Kanwil here
    far_head: str  # Ka Kanwil of the other office
    clerk: str  # Pelaksana here: another lane of the same SOP


@pytest.fixture
def team(site):
    """Two fresh offices with their own accounts, so inbox counts see only this test's cases."""
    office, far_office = site.office(), site.office()
    return Team(office, far_office, site.user((HEAD, office)), site.user((HEAD, office)),
                site.user((HEAD, far_office)), site.user(("Pelaksana", office)))


def first_step(site, team, office=None, clock=None):
    """Start an SOP 001 case and return its first work item (for Ka Kanwil)."""
    office = office or team.office
    starter = team.head if office == team.office else team.far_head
    case = site.start(SOP001, starter, office=office, clock=clock)
    return site.only_ready(case.id)


def inbox(browser, query=""):
    response = browser.get(f"/tugas{query}")
    assert response.status_code == 200
    page = text(response)
    return inbox_rows(page), page


def test_the_inbox_lists_the_items_of_the_users_role_in_the_users_office(site, team):
    items = [first_step(site, team).id for _ in range(2)]
    rows, page = inbox(site.browser(team.head))
    assert sorted(rows) == sorted(items)
    assert inbox_total(page) == 2
    assert "1. Menugaskan Kadiv Administrasi menyusun SP/MP" in page


def test_the_inbox_links_each_item_to_its_task_page_and_its_case(site, team):
    item = first_step(site, team)
    _, page = inbox(site.browser(team.head))
    assert f'href="/tugas/{item.id}"' in page
    assert f'href="/kasus/{item.instance_id}"' in page
    assert site.instance(item.instance_id).number in page


def test_the_holder_of_another_lane_does_not_see_the_item(site, team):
    first_step(site, team)
    rows, page = inbox(site.browser(team.clerk))
    assert rows == []
    assert inbox_total(page) == 0
    assert '<p class="empty">' in page


def test_the_holder_of_the_same_role_in_another_office_does_not_see_the_item(site, team):
    here = first_step(site, team)
    there = first_step(site, team, office=team.far_office)
    assert inbox(site.browser(team.far_head))[0] == [there.id]
    assert inbox(site.browser(team.head))[0] == [here.id]


def test_a_user_without_any_role_has_an_empty_inbox(site, team):
    first_step(site, team)
    rows, page = inbox(site.browser(site.user()))
    assert rows == []
    assert '<p class="empty">' in page


def test_the_sop_filter_shows_only_that_sops_items(site, team):
    both = site.user((HEAD, team.office), ("Klien", "MALUT"))
    template_item = first_step(site, team)
    public = site.start(SOP000, "klien.malut")
    public_item = site.only_ready(public.id)
    browser = site.browser(both)
    assert {template_item.id, public_item.id} <= set(inbox(browser)[0])
    assert inbox(browser, f"?sop={SOP001}")[0] == [template_item.id]
    filtered = inbox(browser, f"?sop={SOP000}")[0]
    assert public_item.id in filtered and template_item.id not in filtered
    assert inbox(browser, "?sop=no_such_sop")[0] == []


def test_the_overdue_filter_shows_only_items_past_their_due_time(site, team):
    kadiv = site.user((KADIV, team.office))
    late_case = site.start(SOP001, team.head, office=team.office, clock=clock_at(hours=2))
    site.complete(site.only_ready(late_case.id).id, team.head, clock=clock_at(hours=2))
    late = site.only_ready(late_case.id)
    fresh_case = site.start(SOP001, team.head, office=team.office)
    site.complete(site.only_ready(fresh_case.id).id, team.head)
    fresh = site.only_ready(fresh_case.id)
    browser = site.browser(kadiv)
    assert sorted(inbox(browser)[0]) == sorted([late.id, fresh.id])
    rows, page = inbox(browser, "?show=overdue")
    assert rows == [late.id]
    assert inbox_total(page) == 1
    assert f'<tr class="overdue" data-item="{late.id}">' in page


def test_the_mine_and_unclaimed_filters_split_the_inbox_by_claim(site, team):
    claimed, free = first_step(site, team), first_step(site, team)
    site.claim(claimed.id, team.head)
    browser = site.browser(team.head)
    assert inbox(browser, "?show=mine")[0] == [claimed.id]
    assert inbox(browser, "?show=unclaimed")[0] == [free.id]
    assert sorted(inbox(browser, "?show=")[0]) == sorted([claimed.id, free.id])
    assert sorted(inbox(browser, "?show=bogus")[0]) == sorted([claimed.id, free.id])


def test_sorting_puts_the_earliest_due_first_or_the_longest_waiting_first(site, team):
    user = site.user((HEAD, team.office), (KADIV, team.office))
    waiting = first_step(site, team, clock=clock_at(hours=3))  # no standard time: no due time
    due_case = site.start(SOP001, team.head, office=team.office, clock=clock_at(hours=2))
    site.complete(site.only_ready(due_case.id).id, team.head, clock=clock_at(hours=2))
    due = site.only_ready(due_case.id)  # due 15 minutes after it became ready
    browser = site.browser(user)
    assert inbox(browser)[0] == [due.id, waiting.id]
    assert inbox(browser, "?sort=due")[0] == [due.id, waiting.id]
    assert inbox(browser, "?sort=waiting")[0] == [waiting.id, due.id]
    assert inbox(browser, "?sort=nonsense")[0] == [due.id, waiting.id]


def test_more_than_25_items_are_paged(site, team):
    items = [first_step(site, team, clock=clock_at(minutes=60 - n)).id for n in range(27)]
    browser = site.browser(team.head)
    first, page = inbox(browser, "?sort=waiting")
    assert inbox_total(page) == 27
    assert first == items[:25]
    assert 'href="/tugas?sop=&amp;show=&amp;sort=waiting&amp;page=2"' in page
    second, page = inbox(browser, "?sort=waiting&page=2")
    assert second == items[25:]
    assert inbox_total(page) == 27
    assert "<strong>2</strong>" in page


def test_past_the_count_limit_the_heading_says_more_and_lists_every_item(site, team, monkeypatch):
    monkeypatch.setitem(site.flask.config, "INBOX_COUNT_LIMIT", 2)  # 1000 unless configured
    items = [first_step(site, team).id for _ in range(3)]
    rows, page = inbox(site.browser(team.head))
    assert sorted(rows) == sorted(items)
    assert '<small class="muted">(2+)</small>' in page
    assert "More than 2 steps are waiting; the filters narrow the list." in page
    rows, page = inbox(site.browser(team.head), "?show=unclaimed&page=1")
    assert len(rows) == 3 and "(2+)" in page


@pytest.mark.parametrize("page", ["0", "-3", "abc", ""])
def test_a_page_number_that_is_not_a_positive_number_shows_the_first_page(site, team, page):
    item = first_step(site, team)
    assert inbox(site.browser(team.head), f"?page={page}")[0] == [item.id]


def test_a_page_past_the_end_is_empty_but_not_an_error(site, team):
    first_step(site, team)
    rows, page = inbox(site.browser(team.head), "?page=999999999999")
    assert rows == []
    assert inbox_total(page) == 1


def test_a_claimed_item_is_hidden_from_the_other_holders_but_shown_to_the_claimer(site, team):
    item = first_step(site, team)
    claimer, other = site.browser(team.head), site.browser(team.deputy)
    response = claimer.post(f"/tugas/{item.id}/ambil", {"next": "/tugas"})
    assert response.status_code == 302
    assert location(response) == "/tugas"
    assert site.item(item.id).claimed_by == team.head
    rows, page = inbox(claimer)
    assert rows == [item.id]
    assert f"<td>{team.head}</td>" in page
    assert f'action="/tugas/{item.id}/lepas"' in page
    assert inbox(other)[0] == []


def test_claiming_from_the_task_page_returns_to_the_task_page(site, team):
    item = first_step(site, team)
    browser = site.browser(team.head)
    response = browser.post(f"/tugas/{item.id}/ambil")
    assert location(response) == f"/tugas/{item.id}"
    assert flashes(text(browser.get(location(response))), "success")


@pytest.mark.parametrize("target", ["//evil.com/x", "https://evil.com", "/\\evil.com",
                                    *sneaky_targets("webui/inbox.py _back (lines 49-53)")])
@pytest.mark.parametrize("action", ["ambil", "lepas"])
def test_claiming_and_releasing_never_redirect_off_the_site(site, team, action, target):
    item = first_step(site, team)
    if action == "lepas":
        site.claim(item.id, team.head)
    response = site.browser(team.head).post(f"/tugas/{item.id}/{action}", {"next": target})
    assert response.status_code == 302
    assert is_local(location(response)), location(response)


def test_claiming_twice_keeps_the_claim(site, team):
    item = first_step(site, team)
    browser = site.browser(team.head)
    browser.post(f"/tugas/{item.id}/ambil")
    assert browser.post(f"/tugas/{item.id}/ambil").status_code == 302
    assert site.item(item.id).claimed_by == team.head


def test_claiming_an_item_someone_else_claimed_is_refused(site, team):
    item = first_step(site, team)
    site.claim(item.id, team.head)
    assert site.browser(team.deputy).post(f"/tugas/{item.id}/ambil").status_code == 403
    assert site.item(item.id).claimed_by == team.head


@pytest.mark.parametrize(("who", "status"), [("clerk", 403), ("far_head", 404)])
def test_claiming_without_the_role_in_the_items_office_is_refused(site, team, who, status):
    item = first_step(site, team)
    assert site.browser(getattr(team, who)).post(f"/tugas/{item.id}/ambil").status_code == status
    assert site.item(item.id).claimed_by is None


@pytest.mark.parametrize("action", ["ambil", "lepas", "alihkan"])
def test_acting_on_an_unknown_item_is_404(site, team, action):
    assert site.browser("admin").post(f"/tugas/no-such-item/{action}", {"to_user": team.head}).status_code == 404


def test_releasing_makes_the_item_visible_to_every_holder_again(site, team):
    item = first_step(site, team)
    site.claim(item.id, team.head)
    browser = site.browser(team.head)
    response = browser.post(f"/tugas/{item.id}/lepas", {"next": "/tugas"})
    assert response.status_code == 302
    assert site.item(item.id).claimed_by is None
    assert inbox(site.browser(team.deputy))[0] == [item.id]
    assert [e.type for e in site.history(item.instance_id)][-2:] == ["task_claimed", "task_released"]


def test_releasing_someone_elses_claim_is_refused_to_a_non_admin(site, team):
    item = first_step(site, team)
    site.claim(item.id, team.head)
    assert site.browser(team.deputy).post(f"/tugas/{item.id}/lepas").status_code == 403
    assert site.item(item.id).claimed_by == team.head


def test_releasing_an_unclaimed_step_says_there_was_nothing_to_release(site, team):
    item = first_step(site, team)
    page = text(site.browser(team.head).post(f"/tugas/{item.id}/lepas", follow_redirects=True))
    assert flashes(page, "info") == ["Nobody had claimed this step, so there was nothing to release."]
    assert flashes(page, "success") == []
    assert "task_released" not in [e.type for e in site.history(item.instance_id)]


def test_an_admin_may_release_someone_elses_claim(site, team):
    item = first_step(site, team)
    site.claim(item.id, team.head)
    assert site.browser("admin").post(f"/tugas/{item.id}/lepas").status_code == 302
    assert site.item(item.id).claimed_by is None


def test_an_admin_may_reassign_an_item_to_another_holder_of_its_role(site, team):
    item = first_step(site, team)
    site.claim(item.id, team.head)
    response = site.browser("admin").post(f"/tugas/{item.id}/alihkan", {"to_user": team.deputy})
    assert response.status_code == 302
    assert site.item(item.id).claimed_by == team.deputy
    assert inbox(site.browser(team.deputy))[0] == [item.id]
    assert inbox(site.browser(team.head))[0] == []
    event = site.history(item.instance_id)[-1]
    assert (event.type, event.actor, event.data["to"], event.data["from"]) == \
        ("task_reassigned", "admin", team.deputy, team.head)


def test_an_office_admin_may_reassign_in_that_office(site, team):
    office_admin = site.user(("admin", team.office))
    item = first_step(site, team)
    assert site.browser(office_admin).post(f"/tugas/{item.id}/alihkan", {"to_user": team.deputy}).status_code == 302
    assert site.item(item.id).claimed_by == team.deputy


def test_an_admin_of_another_office_may_not_reassign(site, team):
    other_admin = site.user(("admin", team.far_office))
    item = first_step(site, team)
    assert site.browser(other_admin).post(f"/tugas/{item.id}/alihkan", {"to_user": team.deputy}).status_code == 404
    assert site.item(item.id).claimed_by is None


@pytest.mark.parametrize("who", ["clerk", "far_head"])
def test_reassigning_to_someone_without_the_role_in_the_office_is_refused(site, team, who):
    item = first_step(site, team)
    assert site.browser("admin").post(f"/tugas/{item.id}/alihkan", {"to_user": getattr(team, who)}).status_code \
        == 403
    assert site.item(item.id).claimed_by is None


def test_reassigning_to_an_unknown_user_is_404(site, team):
    item = first_step(site, team)
    assert site.browser("admin").post(f"/tugas/{item.id}/alihkan", {"to_user": "no-such-user"}).status_code == 404
    assert site.item(item.id).claimed_by is None


def test_reassigning_by_a_non_admin_is_refused_even_to_a_holder(site, team):
    item = first_step(site, team)
    assert site.browser(team.head).post(f"/tugas/{item.id}/alihkan", {"to_user": team.deputy}).status_code == 403
    assert site.item(item.id).claimed_by is None


def test_a_completed_item_can_no_longer_be_claimed(site, team):
    item = first_step(site, team)
    site.complete(item.id, team.head)
    assert site.browser(team.head).post(f"/tugas/{item.id}/ambil").status_code == 409
