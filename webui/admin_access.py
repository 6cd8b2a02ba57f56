"""The admin area's blueprint (`admin`), who may open which of its pages, and the links the top bar shows."""

from __future__ import annotations

from functools import wraps
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, current_app, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine import identity, worklist
from engine.errors import NotPermitted

bp = Blueprint("admin", __name__)
DEFAULT_ZONE = "Asia/Jakarta"


def may_open_area(roles) -> bool:
    """Analysts, deployers and admins (of any office) see the admin area."""
    return identity.may_model(roles) or worklist.is_admin(roles)


def may_model(roles) -> bool:
    return identity.may_model(roles)


def may_deploy(roles) -> bool:
    return identity.may_deploy(roles)


def is_office_admin(roles) -> bool:
    """An admin of at least one office administers that office's cases."""
    return worklist.is_admin(roles)


def is_global_admin(roles) -> bool:
    return identity.is_global_admin(roles)


def allowed(check):
    """Log in first; then refuse (403) unless `check(roles)` holds. The engine checks again on every change."""
    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if not check(current_user.roles):
                raise NotPermitted("You are not allowed to open this page.")
            return view(*args, **kwargs)
        return guarded
    return decorate


def alur():
    return current_app.extensions["alur"]


def office_zones() -> dict[str, str]:
    """Each office's time zone, to write moments in the office's local time."""
    with alur().uow(write=False) as uow:
        return {o.code: o.timezone for o in uow.directory.offices()}


def zone_of(zones: dict[str, str], office: str | None) -> str:
    zone = zones.get(office or "") or DEFAULT_ZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE
    return zone


@bp.app_template_filter("field_message")
def field_message(error) -> str:
    """A field message from the engine: a forms.Message (translated) or a plain English sentence."""
    template = getattr(error, "template", None)
    if template is None:
        return str(error)
    return gettext(template).format(**getattr(error, "params", {}))


@bp.app_context_processor
def _admin_links():
    links = {"admin_area": False, "drafts_url": None}
    if current_user and current_user.is_authenticated:
        roles = current_user.roles
        links["admin_area"] = may_open_area(roles)
        # The modeler is another blueprint; link to it only when this app has it.
        if may_model(roles) and "modeler.drafts" in current_app.view_functions:
            links["drafts_url"] = url_for("modeler.drafts")
    return links
