"""Offices: their time zone, how durations count, working hours, and days off or on besides the national calendar."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

import forms
from engine import deadlines, identity
from engine.errors import FormInvalid, NotFound
from webui.admin_access import allowed, alur, bp, is_global_admin

OFFICE_FIELDS = ("code", "name", "timezone", "time_mode", "schedule")
ZONES = ("Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")
DAY_KINDS = ("holiday", "workday", "clear")


def _offices():
    return identity.offices(alur().uow(write=False), actor=current_user.username)


def _office(code):
    found = next((o for o in _offices() if o.code == code), None)
    if found is None:
        raise NotFound(f"No office '{code}'.", office=code)
    return found


def _form_values(code=None) -> dict:
    values = {name: request.form.get(name) or "" for name in OFFICE_FIELDS}
    if code is not None:
        values["code"] = code
    return values


def _save(values):
    saved = identity.save_office(alur().uow(), actor=current_user.username, **values)
    if saved.calendar_changed:
        moved = deadlines.recompute(alur().uow, saved.office.code)
        flash(ngettext("%(num)d deadline of an open step was recomputed.",
                       "%(num)d deadlines of open steps were recomputed.", moved), "info")
    return saved


@bp.route("/kelola/kantor", methods=["GET", "POST"])
@allowed(is_global_admin)
def offices():
    values, errors, status = {"time_mode": "working", "timezone": ZONES[0]}, {}, 200
    if request.method == "POST":
        values = _form_values()
        try:
            if values["code"] and any(o.code == values["code"].strip() for o in _offices()):
                code_taken = forms.Message(forms.N_("An office with this code exists already."), {})
                raise FormInvalid("office code taken", fields={"code": code_taken}, values=values)
            saved = _save(values)
        except FormInvalid as err:
            values, errors, status = {**values, **err.values}, err.fields, 400
        else:
            flash(gettext("Office %(code)s was created.", code=saved.office.code), "success")
            return redirect(url_for("admin.office", code=saved.office.code))
    return render_template("admin/offices.html", offices=_offices(), values=values, errors=errors,
                           zones=ZONES), status


def _page(code, values=None, errors=None, day_values=None, day_errors=None, status=200):
    office = _office(code)
    with alur().uow(write=False) as uow:
        days = uow.directory.office_days(code)
    values = values or {"name": office.name, "timezone": office.timezone, "time_mode": office.time_mode,
                        "schedule": office.schedule or ""}
    return render_template("admin/office.html", office=office, values=values, errors=errors or {}, days=days,
                           day_values=day_values or {"kind": "holiday"}, day_errors=day_errors or {},
                           zones=ZONES), status


@bp.route("/kelola/kantor/<code>")
@allowed(is_global_admin)
def office(code):
    return _page(code)


@bp.route("/kelola/kantor/<code>", methods=["POST"])
@allowed(is_global_admin)
def office_save(code):
    _office(code)  # editing never creates: an unknown code is 404
    values = _form_values(code)
    try:
        _save(values)
    except FormInvalid as err:
        return _page(code, {**values, **err.values}, err.fields, status=400)
    flash(gettext("Office %(code)s was saved.", code=code), "success")
    return redirect(url_for("admin.office", code=code))


def _day_problems(values) -> dict:
    problems = {}
    try:
        date.fromisoformat(values["day"])
    except ValueError:
        problems["day"] = forms.Message(forms.model.DATE_FORMAT, {})
    if values["kind"] not in DAY_KINDS:
        problems["kind"] = forms.Message(forms.N_("Choose a day off, a working day, or back to the national "
                                                  "calendar."), {})
    if len(values["note"]) > 200:
        problems["note"] = forms.Message(forms.model.TOO_LONG, {"max": 200})
    return problems


@bp.route("/kelola/kantor/<code>/hari", methods=["POST"])
@allowed(is_global_admin)
def office_day(code):
    _office(code)
    values = {name: (request.form.get(name) or "").strip() for name in ("day", "kind", "note")}
    problems = _day_problems(values)
    if problems:
        return _page(code, day_values=values, day_errors=problems, status=400)
    kind = None if values["kind"] == "clear" else values["kind"]
    moved = deadlines.set_office_day(alur().uow, code, date.fromisoformat(values["day"]), kind,
                                     actor=current_user.username, note=values["note"] or None)
    messages = {"holiday": gettext("%(day)s is a day off for office %(code)s.", day=values["day"], code=code),
                "workday": gettext("%(day)s is a working day for office %(code)s.", day=values["day"], code=code),
                None: gettext("%(day)s follows the national calendar again.", day=values["day"])}
    flash(messages[kind], "success")
    if moved:
        flash(ngettext("%(num)d deadline of an open step was recomputed.",
                       "%(num)d deadlines of open steps were recomputed.", moved), "info")
    return redirect(url_for("admin.office", code=code))
