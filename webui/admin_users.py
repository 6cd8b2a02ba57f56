"""User accounts: the list, a new account, and one account's roles, active flag and password."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from engine import identity
from engine.errors import FormInvalid
from webui.admin_access import allowed, alur, bp, is_global_admin, is_office_admin

NEW_USER_FIELDS = ("username", "full_name", "email")


@bp.route("/kelola/pengguna")
@allowed(is_office_admin)
def users():
    found = identity.users(alur().uow(write=False), actor=current_user.username)
    role, office = request.args.get("role") or None, request.args.get("office") or None
    if role or office:  # who holds a role, who works in an office, or who holds the role there
        found = [u for u in found if any((role is None or r == role) and (office is None or o in (office, None))
                                         for o, r in u.grants)]
    roles, offices = _known_roles()
    return render_template("admin/users.html", users=found, may_create=is_global_admin(current_user.roles),
                           roles=roles, offices=offices, role=role, office=office)


@bp.route("/kelola/pengguna/baru", methods=["GET", "POST"])
@allowed(is_global_admin)
def user_new():
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = {name: request.form.get(name) or "" for name in NEW_USER_FIELDS}
        try:
            created = identity.create_user(alur().uow(), actor=current_user.username,
                                           password=request.form.get("password") or "", **values)
        except FormInvalid as err:
            values, errors, status = {**values, **err.values}, err.fields, 400
        else:
            flash(gettext("The account %(username)s was created. Give it its roles below.",
                          username=created.username), "success")
            return redirect(url_for("admin.user", username=created.username))
    return render_template("admin/user_new.html", values=values, errors=errors), status


def _known_roles() -> list[str]:
    """Roles worth suggesting: the system roles and every lane of a deployed process."""
    with alur().uow(write=False) as uow:
        lanes = {lane for d in uow.deployments.list() for lane in d.lanes if lane}
        offices = uow.directory.offices()
    return [*identity.SYSTEM_ROLES, *sorted(lanes - set(identity.SYSTEM_ROLES))], offices


def _page(username, errors=None, values=None, form=None, status=200):
    account = identity.user(alur().uow(write=False), username, actor=current_user.username)
    roles, offices = _known_roles()
    return render_template("admin/user.html", account=account, roles=roles, offices=offices, errors=errors or {},
                           values=values or {}, form=form, is_global=is_global_admin(current_user.roles),
                           myself=username == current_user.username), status


@bp.route("/kelola/pengguna/<username>")
@allowed(is_office_admin)
def user(username):
    return _page(username)


@bp.route("/kelola/pengguna/<username>/peran", methods=["POST"])
@allowed(is_office_admin)
def user_grant(username):
    role, office = request.form.get("role") or "", request.form.get("office") or ""
    try:
        added = identity.grant(alur().uow(), username, role, office or None, actor=current_user.username)
    except FormInvalid as err:
        return _page(username, err.fields, {"role": role, "office": office}, "grant", 400)
    where = office or gettext("every office")
    if added:
        flash(gettext("%(username)s now holds %(role)s in %(office)s.", username=username, role=role.strip(),
                      office=where), "success")
    else:
        flash(gettext("%(username)s already holds %(role)s in %(office)s.", username=username, role=role.strip(),
                      office=where), "info")
    return redirect(url_for("admin.user", username=username))


@bp.route("/kelola/pengguna/<username>/cabut", methods=["POST"])
@allowed(is_office_admin)
def user_revoke(username):
    role, office = request.form.get("role") or "", request.form.get("office") or ""
    if identity.revoke(alur().uow(), username, role, office or None, actor=current_user.username):
        flash(gettext("%(username)s no longer holds %(role)s in %(office)s.", username=username, role=role,
                      office=office or gettext("every office")), "success")
    return redirect(url_for("admin.user", username=username))


@bp.route("/kelola/pengguna/<username>/aktif", methods=["POST"])
@allowed(is_global_admin)
def user_active(username):
    active = request.form.get("active") == "1"
    identity.set_active(alur().uow(), username, active, actor=current_user.username)
    if active:
        flash(gettext("%(username)s can log in again.", username=username), "success")
    else:
        flash(gettext("%(username)s is deactivated: the account cannot log in, and its claimed steps are back "
                      "with their role.", username=username), "success")
    return redirect(url_for("admin.user", username=username))


@bp.route("/kelola/pengguna/<username>/sandi", methods=["POST"])
@allowed(is_global_admin)
def user_password(username):
    try:
        identity.reset_password(alur().uow(), username, request.form.get("password") or "",
                                actor=current_user.username)
    except FormInvalid as err:
        return _page(username, err.fields, {}, "password", 400)
    flash(gettext("The password of %(username)s was changed; the account's open sessions have ended.",
                  username=username), "success")
    return redirect(url_for("admin.user", username=username))
