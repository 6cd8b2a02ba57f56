"""Deployed processes and their versions: who deployed what and why, the XML, retire and restore, compare."""

from __future__ import annotations

import io

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_login import current_user

from engine import versions
from webui.admin_access import (
    allowed,
    alur,
    bp,
    is_global_admin,
    may_deploy,
    may_open_area,
    office_zones,
    zone_of,
)

MAX_INT = 2147483647


def version_arg(name: str) -> int | None:
    """A version number from the query string, or None when it is missing or not a number."""
    value = request.values.get(name, "")
    if not value.isdigit() or int(value) > MAX_INT:
        return None
    return int(value)


@bp.route("/kelola/proses")
@allowed(may_open_area)
def processes():
    summaries = versions.processes(alur().uow(write=False), viewer=current_user.username)
    return render_template("admin/processes.html", processes=summaries)


@bp.route("/kelola/proses/<key>")
@allowed(may_open_area)
def process(key):
    infos = versions.list_versions(alur().uow(write=False), key, viewer=current_user.username)
    zones = office_zones()
    roles = current_user.roles
    current = next((v.deployment.version for v in infos if v.is_current), None)
    numbers = [v.deployment.version for v in infos]
    return render_template(
        "admin/process.html", key=key, infos=infos, newest=infos[0].deployment if infos else None,
        zone=lambda d: zone_of(zones, d.office), current=current, numbers=numbers,
        default_from=numbers[1] if len(numbers) > 1 else (numbers[0] if numbers else None),
        default_to=numbers[0] if numbers else None,
        may_deploy=may_deploy(roles), may_migrate=is_global_admin(roles), may_map=is_global_admin(roles),
    )


@bp.route(f"/kelola/proses/<key>/v<int(max={MAX_INT}):version>.bpmn")
@allowed(may_open_area)
def version_xml(key, version):
    _filename, data = versions.version_xml(alur().uow(write=False), key, version, viewer=current_user.username)
    return send_file(io.BytesIO(data), mimetype="application/xml", as_attachment=True,
                     download_name=f"{key}-v{version}.bpmn", max_age=0)


@bp.route(f"/kelola/proses/<key>/v<int(max={MAX_INT}):version>/pensiunkan", methods=["POST"])
@allowed(may_deploy)
def retire(key, version):
    reason = (request.form.get("reason") or "").strip() or None
    versions.retire(alur().uow(), key, version, actor=current_user.username, reason=reason)
    flash(gettext("Version %(version)d is retired: new cases no longer start on it; running cases finish on it.",
                  version=version), "success")
    return redirect(url_for("admin.process", key=key))


@bp.route(f"/kelola/proses/<key>/v<int(max={MAX_INT}):version>/pulihkan", methods=["POST"])
@allowed(may_deploy)
def restore(key, version):
    versions.restore(alur().uow(), key, version, actor=current_user.username)
    flash(gettext("Version %(version)d is restored.", version=version), "success")
    return redirect(url_for("admin.process", key=key))


@bp.route("/kelola/proses/<key>/beda")
@allowed(may_open_area)
def diff(key):
    old, new = version_arg("dari"), version_arg("ke")
    if old is None or new is None:
        flash(gettext("Choose the two versions to compare."), "error")
        return redirect(url_for("admin.process", key=key))
    result = versions.diff(alur().uow(write=False), key, old, new, viewer=current_user.username)
    return render_template("admin/diff.html", key=key, diff=result)
