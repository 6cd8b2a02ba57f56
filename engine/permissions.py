"""Who may do what: the system roles, the checks every use case makes, and the command line's operator."""

from __future__ import annotations

from engine.errors import NotPermitted
from engine.model import AuditEvent
from engine.worklist import ADMIN, is_admin

ANALYST = "analyst"
DEPLOYER = "deployer"
SYSTEM_ROLES = (ADMIN, ANALYST, DEPLOYER)  # rights over Alur itself, which only a global admin hands out


class _Operator:
    """Whoever runs `alur` on the server: holding the database already, it may do everything."""

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = _Operator()  # pass as `actor` from the command line; audit records it as the system (actor None)


def may_model(roles) -> bool:
    """Analysts, deployers and admins of any office work on diagrams (drafts, lint, the modeler)."""
    return any(role in (ANALYST, DEPLOYER, ADMIN) for _, role in roles)


def may_deploy(roles) -> bool:
    """Deployers and admins of every office deploy, retire and restore SOP versions.

    An admin of one office may not: a version applies to every office that runs the SOP.
    """
    return any(role == DEPLOYER for _, role in roles) or is_global_admin(roles)


def is_global_admin(roles) -> bool:
    """An admin of every office: manages users, offices, lane roles and migrations."""
    return (None, ADMIN) in roles


def roles_for(uow, actor):
    """The actor's grants; None for the operator, whom no check refuses."""
    return None if actor is OPERATOR else uow.directory.roles_of(actor)


def who(actor):
    """The actor as the audit names it (the operator is the system)."""
    return None if actor is OPERATOR else actor


def require(uow, actor, allowed, what: str) -> None:
    roles = roles_for(uow, actor)
    if roles is not None and not allowed(roles):
        raise NotPermitted(f"Only {what} may do this.", user=who(actor))


def require_global_admin(uow, actor) -> None:
    require(uow, actor, is_global_admin, "an administrator of every office")


def require_any_admin(uow, actor) -> None:
    require(uow, actor, is_admin, "an administrator")


def audit(uow, actor, kind, now, **data) -> None:
    """Record an administrative change, which belongs to no case."""
    uow.audit.add(AuditEvent(None, now, who(actor), kind, data=data))
