"""Starting a service (Mulai layanan), the case page, its diagram and its attachments."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

import forms
from engine import casefile, services
from engine.errors import FormInvalid, NotFound, NotPermitted
from webui.auth import reading

bp = Blueprint("cases", __name__)


def _alur():
    return current_app.extensions["alur"]


@bp.route("/layanan")
@login_required
def start_list():
    startable = casefile.startable(reading(), viewer=current_user.username)
    return render_template("start_list.html", startable=startable)


def _find(key):
    startable = casefile.startable(reading(), viewer=current_user.username)
    found = next((s for s in startable if s.deployment.key == key), None)
    if found is None:
        abort(404)
    return found


@bp.route("/layanan/<key>", methods=["GET", "POST"])
@login_required
def start(key):
    found, office, values, errors, status = None, None, None, None, 200
    if request.method == "POST":
        office = request.form.get("office") or None
        if office is None or not current_user.roles:
            # The form names the office (a hidden field where there is one choice); otherwise decide as it would.
            found = _find(key)  # 404 unless the user may start the SOP somewhere
            office = office or (found.offices[0] if len(found.offices) == 1 else None)
        if office is not None:
            # services.start checks that the user may start the SOP in this office: the list of what the user may
            # start is read only to show the page again.
            try:
                instance = services.start(_alur().uow(), key, actor=current_user.username, office=office,
                                          data=request.form)
            except FormInvalid as err:
                values, errors, status = err.values, err.fields, 400
            except (NotFound, NotPermitted):
                found = found or _find(key)
                if office in found.offices:
                    raise
                office = None
            else:
                flash(gettext("Case %(number)s started.", number=instance.number), "success")
                return redirect(url_for("cases.show", instance_id=instance.id))
    found = found or _find(key)
    spec = forms.form_for_start(list(found.deployment.start_form))
    if request.method == "POST" and office is None:  # none chosen, or one where the user may not start it
        errors = {"office": forms.Message(forms.N_("Choose the office the case belongs to."), {})}
        values, status = forms.shown_values(spec, request.form) if spec else {}, 400
    fields = forms.render_fields(spec, values=values, errors=errors) if spec else []
    return render_template("start.html", found=found, fields=fields, errors=errors or {},
                           office=request.form.get("office")), status


@bp.route("/kasus/<int(max=2147483647):instance_id>")
@login_required
def show(instance_id):
    view = casefile.case_view(reading(), instance_id, viewer=current_user.username,
                              roles=current_user.roles)
    return render_template("case.html", case=view)


@bp.route("/kasus/<int(max=2147483647):instance_id>/diagram.bpmn")
@login_required
def diagram(instance_id):
    xml = casefile.diagram_xml(reading(), instance_id, viewer=current_user.username)
    # Only diagram.js reads this. Opened on its own, a browser would render the XML as a page of this site, and
    # XHTML or SVG elements in a diagram's extensions would come alive: download it instead, and sandbox it.
    return Response(xml, mimetype="application/xml", headers={
        "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
        "Content-Disposition": f'attachment; filename="kasus-{instance_id}.bpmn"'})


@bp.route("/lampiran/<attachment_id>")
@login_required
def attachment(attachment_id):
    record = casefile.attachment_for(reading(), attachment_id, viewer=current_user.username)
    store = current_app.extensions["alur_files"]
    try:
        stream = store.open(record.id)
    except (OSError, ValueError):
        abort(404)
    return send_file(stream, mimetype=record.content_type, as_attachment=True, download_name=record.filename,
                     max_age=0)
