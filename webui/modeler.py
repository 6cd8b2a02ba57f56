"""The modeler: drafts of SOP diagrams edited with bpmn-js in the browser, checked, and deployed as new versions."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine import drafts
from engine.errors import AlurError, DiagramInvalid, FormInvalid
from webui.errors import STATUS

bp = Blueprint("modeler", __name__)
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _alur():
    return current_app.extensions["alur"]


def _leads():
    return {
        "stale_instance": gettext("Someone else saved this draft after you opened it, so your changes were not "
                                  "saved. They are still in the editor: download them before you reload."),
        "not_permitted": gettext("You are not allowed to do this."),
        "not_found": gettext("This draft does not exist any more."),
        "diagram_invalid": gettext("The diagram has problems; nothing was deployed. Validate it to see them."),
        "form_invalid": gettext("Some of what was entered is not valid."),
    }


def _json_api(view):
    """Answer with JSON also when the engine refuses: a message for people, the code and details for the script."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except AlurError as err:
            body = {"error": err.code, "message": _leads().get(err.code) or str(err), "detail": str(err)}
            if isinstance(err, DiagramInvalid):  # the problems say it all; the engine's count adds nothing
                body["problems"], body["detail"] = [_problem(p) for p in err.problems], ""
            if isinstance(err, FormInvalid):
                body["fields"] = sorted(err.fields)
            return jsonify(body), STATUS.get(err.code, 400)
    return wrapper


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AlurError("The request must be a JSON object.")
    return body


def _row_version(body, required=True):
    value = body.get("row_version")
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AlurError("row_version must be a whole number.")
    return value


def _xml(body, required=True):
    value = body.get("xml")
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise AlurError("xml must be the diagram as text.")
    return value


def _problem(p) -> dict:
    return {"severity": p.severity, "line": p.line, "element": p.element, "message": p.message}


def report_json(report) -> dict:
    """A lint report as the editor shows it: errors first, then warnings, then notes."""
    problems = sorted(report.problems, key=lambda p: (SEVERITY_ORDER.get(p.severity, 3), p.line or 0))
    return {
        "ok": report.ok,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "problems": [_problem(p) for p in problems],
        "processes": [{"key": info.key, "name": info.name, "steps": len(info.steps),
                       "lanes": [name for _, name in info.lanes]} for info in report.processes],
    }


# --- pages ------------------------------------------------------------------------------------------------------------

@bp.route("/rancangan", endpoint="drafts")
@login_required
def index():
    user = current_user.username
    found = drafts.list_drafts(_alur().uow(write=False), actor=user)
    sources = drafts.sources(_alur().uow(write=False), actor=user)
    return render_template("modeler/index.html", drafts=found, sources=sources,
                           may_deploy=drafts.may_deploy(current_user.roles))


@bp.route("/rancangan/baru", methods=["POST"])
@login_required
def create():
    try:
        draft = drafts.create(_alur().uow(), actor=current_user.username, name=request.form.get("name", ""))
    except FormInvalid:
        flash(gettext("Give the new SOP a name."), "error")
        return redirect(url_for("modeler.drafts"))
    return redirect(url_for("modeler.editor", draft_id=draft.id))


@bp.route("/rancangan/salin", methods=["POST"])
@login_required
def copy():
    key, _, version = request.form.get("source", "").rpartition(":")
    if not key or not version.isdigit():
        flash(gettext("Choose a deployed version to open."), "error")
        return redirect(url_for("modeler.drafts"))
    draft = drafts.create_from_version(_alur().uow(), key, int(version), actor=current_user.username)
    return redirect(url_for("modeler.editor", draft_id=draft.id))


@bp.route("/rancangan/<int(max=2147483647):draft_id>")
@login_required
def editor(draft_id):
    draft = drafts.get(_alur().uow(write=False), draft_id, actor=current_user.username)
    return render_template("modeler/editor.html", draft=draft, may_deploy=drafts.may_deploy(current_user.roles))


@bp.route("/rancangan/<int(max=2147483647):draft_id>/hapus", methods=["POST"])
@login_required
def delete(draft_id):
    drafts.delete(_alur().uow(), draft_id, actor=current_user.username)
    flash(gettext("The draft was deleted."), "success")
    return redirect(url_for("modeler.drafts"))


# --- what the editor's script calls -----------------------------------------------------------------------------------

@bp.route("/rancangan/<int(max=2147483647):draft_id>/isi")
@login_required
@_json_api
def content(draft_id):
    draft = drafts.get(_alur().uow(write=False), draft_id, actor=current_user.username)
    response = jsonify({"xml": draft.text, "row_version": draft.row_version,
                        "key": draft.key, "name": draft.name})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/rancangan/<int(max=2147483647):draft_id>/simpan", methods=["POST"])
@login_required
@_json_api
def save(draft_id):
    body = _body()
    draft = drafts.save(_alur().uow(), draft_id, _xml(body), _row_version(body), actor=current_user.username)
    return jsonify({"row_version": draft.row_version, "key": draft.key})


@bp.route("/rancangan/<int(max=2147483647):draft_id>/periksa", methods=["POST"])
@login_required
@_json_api
def check(draft_id):
    body = request.get_json(silent=True) or {}
    data = _xml(body, required=False) if isinstance(body, dict) else None
    report = drafts.check(_alur().uow(write=False), draft_id, actor=current_user.username, data=data)
    return jsonify(report_json(report))


@bp.route("/rancangan/<int(max=2147483647):draft_id>/terapkan", methods=["POST"])
@login_required
@_json_api
def deploy(draft_id):
    body = _body()
    note = body.get("note") if isinstance(body.get("note"), str) else ""
    result = drafts.deploy(_alur().uow, draft_id, actor=current_user.username, note=note,
                           row_version=_row_version(body, required=False))
    if result.created:
        message = gettext("Deployed as version %(version)d of %(key)s.", version=result.version, key=result.key)
    else:
        message = gettext("Nothing changed since version %(version)d of %(key)s; no new version was made.",
                          version=result.version, key=result.key)
    return jsonify({"key": result.key, "version": result.version, "created": result.created, "message": message,
                    "report": report_json(result.report)})
