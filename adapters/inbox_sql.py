"""The inbox queries: one page of the ready work items a user's grants allow, and how many there are (capped).

Both cost the same with a thousand open cases or a hundred thousand:

  count  stops at query.count_limit + 1 rows (the page then says "500+", as Camunda's Tasklist says "1000+"), read
         from the index alone (claimed_by, suspended, the item's SOP and overdue end it);
  page   takes, per grant, the first offset + per_page ready items in the order of a partial index on the ready
         items (ix_work_items_ready_due or _waiting: role, office, then the sort columns), and merges them, instead
         of sorting every item the grants allow.

The statements are built once per shape (the grants with or without an office, the filters, the sort, the page)
with bound parameters, and reused: building a union of selects costs more Python than running it.
"""

from __future__ import annotations

from functools import lru_cache
from operator import itemgetter

from sqlalchemy import and_, bindparam, func, literal_column, or_, select, union_all

from adapters import reads
from adapters import tables as t
from engine.model import InboxEntry, WorkItem

_FIELDS = tuple(WorkItem.__dataclass_fields__)
_CASE_FIELDS = ("key", "number", "process_name", "timezone")


def grant_pairs(roles) -> list[tuple[str, str | None]]:
    """(role, office or None) per grant, none overlapping another: a role held everywhere covers its offices."""
    everywhere = {role for office, role in roles if office is None}
    return sorted({(role, office) for office, role in roles if office is None or role not in everywhere},
                  key=lambda pair: (pair[0], pair[1] or ""))


def grants_condition(roles):
    """Work items of a role the grants give, in the office they give it (or in every office)."""
    c = t.work_items.c
    return or_(*[and_(c.role == role, c.office == office) if office else c.role == role
                 for role, office in grant_pairs(roles)])


def order(columns, sort: str) -> list:
    """The inbox order; NULLS LAST is "due_at IS NULL" first, said so that the ready-items index holds it."""
    if sort == "waiting":
        return [columns.ready_at, columns.id]
    return [columns.due_at.asc().nulls_last(), columns.ready_at, columns.id]


def _grant(index: int, with_office: bool):
    c = t.work_items.c
    role = c.role == bindparam(f"role_{index}")
    return and_(role, c.office == bindparam(f"office_{index}")) if with_office else role


def _where(key: bool, overdue: bool, mine: bool, unclaimed: bool) -> list:
    c = t.work_items.c
    user = bindparam("user")
    # A suspended case's steps wait out of every inbox: the item says so itself (work_items.suspended), so the
    # count reads the index alone, with no look at the case per item.
    # 'ready' written into the SQL, not bound: the partial indexes hold state = 'ready', and once psycopg prepares
    # the statement PostgreSQL may plan it for any parameters (a generic plan), which with "state = $1" cannot
    # use them (the count then read every ready item: 38 ms instead of 1 at 10k cases).
    where = [c.state == literal_column("'ready'"), or_(c.claimed_by.is_(None), c.claimed_by == user),
             c.suspended.is_(False)]
    if key:
        # The item's own copy of its case's key, in the index: looking up each item's case made the filtered inbox
        # grow with the open cases (B4's median 2.4 -> 4.3 ms from 1k to 100k) where the others stay flat.
        where.append(c.process_key == bindparam("key"))
    if overdue:
        where.append(or_(c.overdue.is_(True), c.due_at <= bindparam("now", type_=c.due_at.type)))
    if mine:
        where.append(c.claimed_by == user)
    if unclaimed:
        where.append(c.claimed_by.is_(None))
    return where


def _number(value: int):
    """A whole number written into the SQL rather than bound (see _statements)."""
    return literal_column(str(int(value)))


@lru_cache(maxsize=256)
def _statements(shape: tuple[bool, ...], key: bool, overdue: bool, mine: bool, unclaimed: bool, sort: str,
                offset: int, per_page: int):
    """(count, page) for grants shaped like `shape` (whether each has an office), the filters chosen and the page.

    The page's LIMIT and OFFSET are written into the SQL. Once psycopg prepares a statement, PostgreSQL plans its
    first five runs for the values given (custom plans), then keeps one plan for any values (a generic plan) unless
    that one's estimated cost is higher. With the limits bound as parameters the generic plan had to guess them and
    came out costlier (B3, and a table without fresh statistics: twice the cost), so every inbox was planned anew,
    about 0.7 ms of the server's CPU. With the limits written in, the generic plan is the same as a custom one and
    is kept, as for every other statement of a step. One statement per page reached: the first pages are the ones
    opened."""
    c = t.work_items.c
    where = _where(key, overdue, mine, unclaimed)
    grants = [_grant(i, with_office) for i, with_office in enumerate(shape)]
    # Per grant too: an index scan that stops at the limit, where an OR of the grants reads every item they allow.
    # A constant, not the id: what the count reads must all be in the index (an index-only scan on PostgreSQL).
    counted = [select(literal_column("1").label("one")).select_from(t.work_items).where(*where, grant)
               .limit(bindparam("count_limit")) for grant in grants]
    capped = counted[0] if len(counted) == 1 else union_all(*(select(q.subquery()) for q in counted)) \
        .limit(bindparam("count_limit"))
    count = select(func.count()).select_from(capped.subquery())
    parts = [select(t.work_items).where(*where, grant).order_by(*order(c, sort)).limit(_number(offset + per_page))
             .subquery() for grant in grants]
    merged = parts[0] if len(parts) == 1 else union_all(*(select(part) for part in parts)).subquery()
    m = merged.c
    page = (select(merged, t.instances.c.key, t.instances.c.number, t.deployments.c.name.label("process_name"),
                   t.offices.c.timezone)
            .select_from(merged.join(t.instances, t.instances.c.id == m.instance_id)
                         .join(t.deployments, t.deployments.c.id == t.instances.c.deployment_id)
                         .outerjoin(t.offices, t.offices.c.code == m.office))
            .order_by(*order(m, sort)).offset(_number(offset)).limit(_number(per_page)))
    return count, page


def inbox_entries(conn, roles, user, query, now) -> tuple[list[InboxEntry], int]:
    """One page of the ready items the grants allow, hiding items claimed by someone else; and the total, counted
    up to query.count_limit + 1."""
    pairs = grant_pairs(roles)
    if not pairs:
        return [], 0
    count, page = _statements(tuple(office is not None for _, office in pairs), bool(query.key),
                              bool(query.overdue), bool(query.mine), bool(query.unclaimed), query.sort,
                              query.offset, query.per_page)
    params = {"user": user, "key": query.key, "now": now, "count_limit": query.count_limit + 1}
    for i, (role, office) in enumerate(pairs):
        params[f"role_{i}"], params[f"office_{i}"] = role, office
    [(total,)] = reads.rows(conn, count, params)  # a statement takes the parameters it names
    if total <= query.count_limit and total <= query.offset:
        return [], total  # past the end: no page to read
    rows = reads.rows(conn, page, params)
    if not rows:
        return [], total
    # Each row's values taken by position, found once per page, rather than field by field by name.
    columns = rows[0]._fields
    item_values = itemgetter(*(columns.index(f) for f in _FIELDS))
    case_values = itemgetter(*(columns.index(f) for f in _CASE_FIELDS))
    entries = []
    for r in rows:
        key, number, process_name, timezone = case_values(r)
        entries.append(InboxEntry(WorkItem(*item_values(r)), key, number, process_name, timezone or "Asia/Jakarta"))
    return entries, total
