"""Cases for their office's admins: a filtered list, and suspending, resuming or cancelling a case with a reason."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from engine import caseadmin, casefile
from engine.errors import FormInvalid
from forms import N_
from webui.admin_access import allowed, alur, bp, is_office_admin, office_zones, zone_of

STATUSES = ("running", "suspended", "completed", "cancelled")
LIMIT = 500
MAX_INT = 2147483647


def _cases(key, status, office):
    """The cases of the offices the user administers, newest first, filtered; and how many matched."""
    found, total, offices = caseadmin.cases(alur().uow(write=False), actor=current_user.username, key=key,
                                            status=status, office=office, limit=LIMIT)
    with alur().uow(write=False) as uow:
        names = dict(uow.deployments.names())
    return found, total, names, offices


@bp.route("/kelola/kasus")
@allowed(is_office_admin)
def case_list():
    key = request.args.get("sop") or None
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    office = request.args.get("office") or None
    cases, total, names, offices = _cases(key, status, office)
    zones = office_zones()
    return render_template("admin/cases.html", cases=cases, total=total, limit=LIMIT, names=names,
                           offices=offices, statuses=STATUSES, key=key, status=status, office=office,
                           zone=lambda i: zone_of(zones, i.office))


ACTIONS = {
    "suspend": (caseadmin.suspend, N_("Case %(number)s is suspended: its steps wait until it is resumed.")),
    "resume": (caseadmin.resume, N_("Case %(number)s is running again.")),
    "cancel": (caseadmin.cancel, N_("Case %(number)s is cancelled.")),
}


def _act(instance_id, action):
    # A case of an office outside the user's grants is answered as if its id did not exist.
    casefile.check_not_hidden(alur().uow(write=False), viewer=current_user.username, instance_id=instance_id)
    change, done = ACTIONS[action]
    reason = request.form.get("reason") or ""
    try:
        instance = change(alur().uow(), instance_id, actor=current_user.username, reason=reason)
    except FormInvalid as err:
        view = casefile.case_view(alur().uow(write=False), instance_id, viewer=current_user.username)
        flash(gettext("Nothing was changed: please correct the field marked below."), "error")
        return render_template("case.html", case=view, admin_errors=err.fields or {"reason": err.message},
                               admin_reason=reason), 400
    flash(gettext(done, number=instance.number), "success")
    return redirect(url_for("cases.show", instance_id=instance_id))


@bp.route(f"/kasus/<int(max={MAX_INT}):instance_id>/tangguhkan", methods=["POST"])
@allowed(is_office_admin)
def case_suspend(instance_id):
    return _act(instance_id, "suspend")


@bp.route(f"/kasus/<int(max={MAX_INT}):instance_id>/lanjutkan", methods=["POST"])
@allowed(is_office_admin)
def case_resume(instance_id):
    return _act(instance_id, "resume")


@bp.route(f"/kasus/<int(max={MAX_INT}):instance_id>/batalkan", methods=["POST"])
@allowed(is_office_admin)
def case_cancel(instance_id):
    return _act(instance_id, "cancel")
