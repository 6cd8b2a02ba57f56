"""The work list: claiming, releasing and reassigning work items, and the inbox query."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from engine.clock import utcnow
from engine.errors import NotFound, NotPermitted, TaskNotReady
from engine.model import AuditEvent

ADMIN = "admin"
PAGE_SIZE = 25
# The inbox counts its items up to this many; beyond it shows "500+" (as Camunda's Tasklist shows "1000+"), so
# neither the count nor the page costs more as the open cases grow. Each counted item costs a look at its case
# (a few microseconds): at 1000 the count was a quarter of the page's time with 100,000 open cases.
COUNT_LIMIT = 500


def holds(roles, office, role) -> bool:
    """Whether a set of (office or None, role) grants gives `role` in `office`."""
    return (office, role) in roles or (None, role) in roles


def is_admin(roles, office=None) -> bool:
    return holds(roles, office, ADMIN) if office else any(role == ADMIN for _, role in roles)


def may_see_case(roles, instance, lanes) -> bool:
    """Who may see a case: an admin of its office, or whoever holds one of its lanes' roles there."""
    return is_admin(roles, instance.office) or any(holds(roles, instance.office, lane) for lane in lanes)


@dataclass(frozen=True)
class InboxQuery:
    """Filters of the inbox: SOP key, only overdue, only mine, only unclaimed; sorted by due time or age."""

    key: str | None = None
    overdue: bool = False
    mine: bool = False
    unclaimed: bool = False
    sort: str = "due"  # due | waiting
    page: int = 1
    per_page: int = PAGE_SIZE
    count_limit: int = COUNT_LIMIT

    @property
    def offset(self) -> int:
        return (max(self.page, 1) - 1) * self.per_page


@dataclass(frozen=True)
class InboxPage:
    """One page of the inbox; `total` is exact up to the query's count_limit, and count_limit + 1 means "more"."""

    entries: list
    total: int
    query: InboxQuery
    processes: list = field(default_factory=list)  # (key, name) of every deployed SOP, for the SOP filter

    @property
    def more(self) -> bool:
        """Whether more items wait than were counted."""
        return self.total > self.query.count_limit

    @property
    def pages(self) -> int:
        """The pages to link to: those the count covers, and the next one while pages are full beyond it."""
        counted = min(self.total, self.query.count_limit)
        pages = max(1, -(-counted // self.query.per_page))
        if self.more and self.entries:
            pages = max(pages, self.query.page + (len(self.entries) == self.query.per_page))
        return pages


def inbox(uow, user, query: InboxQuery = InboxQuery(), *, roles=None, clock=utcnow):
    """One page of the ready work items `user` may do, and how many there are (counted up to query.count_limit + 1).

    `roles` are the user's grants when the caller already read them (the web UI does, once per request).
    """
    with uow:
        return _inbox(uow, user, query, roles, clock)


def inbox_page(uow, user, query: InboxQuery = InboxQuery(), *, roles=None, clock=utcnow) -> InboxPage:
    """The inbox page in one transaction: the entries, the count and the SOPs to filter by."""
    with uow:
        entries, total = _inbox(uow, user, query, roles, clock)
        return InboxPage(entries, total, query, uow.deployments.names())


def _inbox(uow, user, query, roles, clock):
    roles = uow.directory.roles_of(user) if roles is None else roles
    if not roles:
        return [], 0
    return uow.work_items.inbox(roles, user, query, clock())


def locked_ready_item(uow, work_item_id):
    """A work item and its case, the case locked; refused unless the case runs and the item is ready."""
    found = uow.instances.lock_item(work_item_id)
    if found is None:
        raise NotFound(f"No work item '{work_item_id}'.", work_item=work_item_id)
    instance, item, directory_version = found
    uow.directory.pin(directory_version)  # grants, office, lanes and holders as of this version, from the cache
    if instance.status == "suspended":
        raise TaskNotReady(f"Case {instance.number} is suspended by an admin: its steps wait until it is resumed.",
                           instance=instance.id, status=instance.status)
    if instance.status != "running":
        raise TaskNotReady(f"Case {instance.number} is {instance.status}: its steps can no longer be done.",
                           instance=instance.id, status=instance.status)
    if item.state != "ready":
        who = f" by {item.completed_by}" if item.completed_by else ""
        raise TaskNotReady(f"Step '{item.step_name}' was already {item.state}{who}; reload to see the case as it "
                           "is now.", work_item=item.id, step=item.step_id)
    return instance, item


def claim(uow, work_item_id, *, actor, clock=utcnow):
    """Take a ready work item: it disappears from the inbox of the role's other holders."""
    with uow:
        instance, item = locked_ready_item(uow, work_item_id)
        roles = uow.directory.roles_of(actor)
        if not holds(roles, instance.office, item.role):
            raise NotPermitted(f"'{actor}' does not hold the role '{item.role}' in office {instance.office}.",
                               work_item=item.id)
        if item.claimed_by == actor:
            return item
        if item.claimed_by:
            raise NotPermitted(f"This step is already claimed by {item.claimed_by}.", work_item=item.id)
        now = clock()
        item = replace(item, claimed_by=actor, claimed_at=now)
        uow.work_items.update(item)
        uow.audit.add(AuditEvent(instance.id, now, actor, "task_claimed", step_id=item.step_id,
                                 data={"work_item": item.id, "name": item.step_name}))
        uow.commit()
    return item


def release(uow, work_item_id, *, actor, clock=utcnow):
    """Give a claimed work item back to every holder of its role (the claimer, or an admin)."""
    with uow:
        instance, item = locked_ready_item(uow, work_item_id)
        roles = uow.directory.roles_of(actor)
        admin = is_admin(roles, instance.office)
        if not admin and not holds(roles, instance.office, item.role):
            raise NotPermitted(f"'{actor}' does not hold the role '{item.role}' in office {instance.office}.",
                               work_item=item.id)
        if not item.claimed_by:
            return item  # nothing to give back: releasing twice is not an error
        if item.claimed_by != actor and not admin:
            raise NotPermitted(f"Only {item.claimed_by} or an admin may release this step.", work_item=item.id)
        now = clock()
        previous = item.claimed_by
        item = replace(item, claimed_by=None, claimed_at=None)
        uow.work_items.update(item)
        uow.audit.add(AuditEvent(instance.id, now, actor, "task_released", step_id=item.step_id,
                                 data={"work_item": item.id, "name": item.step_name, "claimed_by": previous}))
        uow.commit()
    return item


def reassign(uow, work_item_id, *, actor, to_user, clock=utcnow):
    """An admin hands a work item to another holder of its role."""
    with uow:
        instance, item = locked_ready_item(uow, work_item_id)
        if not is_admin(uow.directory.roles_of(actor), instance.office):
            raise NotPermitted(f"Only an admin of office {instance.office} may reassign a step.", work_item=item.id)
        if not uow.directory.exists(to_user):
            raise NotFound(f"No user '{to_user}'.", user=to_user)
        if not holds(uow.directory.roles_of(to_user), instance.office, item.role):
            raise NotPermitted(f"'{to_user}' does not hold the role '{item.role}' in office {instance.office}.",
                               work_item=item.id, user=to_user)
        now = clock()
        previous = item.claimed_by
        item = replace(item, claimed_by=to_user, claimed_at=now)
        uow.work_items.update(item)
        uow.audit.add(AuditEvent(instance.id, now, actor, "task_reassigned", step_id=item.step_id,
                                 data={"work_item": item.id, "name": item.step_name, "from": previous,
                                       "to": to_user}))
        uow.commit()
    return item
