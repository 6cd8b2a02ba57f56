"""Which role does the work of each lane of a process (by default the role named like the lane)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from engine import identity
from engine.errors import FormInvalid
from webui.admin_access import allowed, alur, bp, is_global_admin


def _render(key, lane=None, value=None, errors=None, status=200):
    lanes = identity.lane_roles(alur().uow(write=False), key, actor=current_user.username)
    return render_template("admin/lanes.html", key=key, lanes=lanes, edited=lane, value=value,
                           errors=errors or {}), status


@bp.route("/kelola/proses/<key>/peran")
@allowed(is_global_admin)
def lane_roles(key):
    return _render(key)


@bp.route("/kelola/proses/<key>/peran", methods=["POST"])
@allowed(is_global_admin)
def lane_role_save(key):
    lane = request.form.get("lane") or ""
    role = (request.form.get("role") or "").strip()
    try:
        identity.set_lane_role(alur().uow(), key, lane, role, actor=current_user.username)
    except FormInvalid as err:
        return _render(key, lane, role, err.fields or {"role": err.message}, status=400)
    if role:
        flash(gettext("The lane %(lane)s is now done by the role %(role)s.", lane=lane, role=role), "success")
    else:
        flash(gettext("The lane %(lane)s is done by the role of the same name again.", lane=lane), "success")
    return redirect(url_for("admin.lane_roles", key=key))
