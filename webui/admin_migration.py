"""Moving running cases from one version of a process to another: a dry run first, then the move."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from engine import migration
from webui.admin_access import allowed, alur, bp, is_global_admin, office_zones, zone_of
from webui.admin_processes import version_arg


def _versions(key):
    old, new = version_arg("dari"), version_arg("ke")
    if old is None or new is None:
        flash(gettext("Choose the version to move cases from and the version to move them to."), "error")
    return old, new


@bp.route("/kelola/proses/<key>/migrasi")
@allowed(is_global_admin)
def migration_plan(key):
    old, new = _versions(key)
    if old is None or new is None:
        return redirect(url_for("admin.process", key=key))
    plan = migration.plan(alur().uow(write=False), key, old, new, actor=current_user.username)
    zones = office_zones()
    return render_template("admin/migration.html", key=key, plan=plan, zone=lambda i: zone_of(zones, i.office))


@bp.route("/kelola/proses/<key>/migrasi", methods=["POST"])
@allowed(is_global_admin)
def migration_run(key):
    old, new = _versions(key)
    if old is None or new is None:
        return redirect(url_for("admin.process", key=key))
    result = migration.migrate(alur().uow, key, old, new, actor=current_user.username)
    flash(ngettext("%(num)d case moved to version %(version)d.", "%(num)d cases moved to version %(version)d.",
                   len(result.moved), version=new), "success")
    left = len(result.cases) - len(result.moved)
    if left:
        flash(ngettext("%(num)d case could not move; the reasons are listed below.",
                       "%(num)d cases could not move; the reasons are listed below.", left), "error")
    return redirect(url_for("admin.migration_plan", key=key, dari=old, ke=new))
