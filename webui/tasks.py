"""The task page: a step's instructions, Kelengkapan, form, the case's history and diagram; submitting it."""

from __future__ import annotations

import os

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

import forms
from engine import casefile, services
from engine.errors import AlurError, EngineError, ExpressionInvalid, FormInvalid, RunawayLoop, StaleInstance
from engine.model import IncomingFile
from webui import errors
from webui.auth import reading

bp = Blueprint("tasks", __name__)
HEAD_BYTES = 8192


def _alur():
    return current_app.extensions["alur"]


def incoming_files(files) -> dict[str, IncomingFile]:
    """The files of a multipart request, with the first bytes read for validation and the stream rewound."""
    result = {}
    for name, storage in files.items():
        if not storage or not storage.filename:
            continue
        stream = storage.stream
        head = stream.read(HEAD_BYTES)
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        upload = forms.Upload(filename=storage.filename, content_type=storage.mimetype or "", size=size, head=head)
        result[name] = IncomingFile(upload=upload, stream=stream)
    return result


def _render(view, values=None, errors=None, status=200):
    candidates = []
    if view.may_reassign:  # only an admin's page offers reassigning: no connection for everybody else's
        with reading() as uow:
            candidates = uow.directory.holders(view.item.role, view.item.office)
    fields = forms.render_fields(view.form, values=values, errors=errors)
    return render_template("task.html", view=view, case=view.case, fields=fields, errors=errors or {},
                           candidates=candidates), status


@bp.route("/tugas/<item_id>")
@login_required
def show(item_id):
    view = casefile.task_view(reading(), item_id, viewer=current_user.username,
                              roles=current_user.roles)
    return _render(view)


def _typed() -> dict:
    """What the official typed into the form, as the form renders it back (a list where a field repeats)."""
    return {k: request.form.getlist(k) if len(request.form.getlist(k)) > 1 else v for k, v in request.form.items()
            if k != "csrf_token"}


@bp.route("/tugas/<item_id>", methods=["POST"])
@login_required
def submit(item_id):
    alur = _alur()
    try:
        # complete() refuses a step the user does not hold the role of; only a refusal can concern a step that
        # must stay hidden, so the check below runs on the way out instead of as a query before every completion.
        try:
            instance = services.complete(alur.uow(), item_id, actor=current_user.username, data=request.form,
                                         files=incoming_files(request.files),
                                         store=current_app.extensions["alur_files"])
        except AlurError:
            # A step of an office outside the user's grants is answered as if its id did not exist.
            casefile.check_not_hidden(reading(), viewer=current_user.username, work_item_id=item_id,
                                      roles=current_user.roles)
            raise
    except FormInvalid as err:
        view = casefile.task_view(reading(), item_id, viewer=current_user.username,
                                  roles=current_user.roles)
        flash(gettext("The step was not completed: please correct the fields marked below."), "error")
        return _render(view, values=err.values or _typed(), errors=err.fields, status=400)
    except (EngineError, ExpressionInvalid, RunawayLoop, StaleInstance) as err:
        # Nothing was saved and the step still waits: its form comes back with everything typed, and the reason.
        view = casefile.task_view(reading(), item_id, viewer=current_user.username,
                                  roles=current_user.roles)
        status, message, detail = errors.explain(err)
        flash(f"{message} {detail}" if detail else message, "error")
        return _render(view, values=_typed(), status=status)
    flash(gettext("Step completed."), "success")
    if instance.status == "completed":
        flash(gettext("The case is complete."), "success")
    return redirect(url_for("cases.show", instance_id=instance.id))
