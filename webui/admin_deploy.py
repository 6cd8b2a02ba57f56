"""The deploy page: upload diagrams, read the lint report, then deploy them as a new version with a change note."""

from __future__ import annotations

from pathlib import Path

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

import forms
from engine import services, versions
from engine.errors import DiagramInvalid
from webui.admin_access import allowed, alur, bp, may_deploy, may_model
from webui.admin_staging import Staging

MAX_FILE_MB = 5
MAX_FILES = 20
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _staging() -> Staging:
    return Staging(Path(alur().data_dir) / "deploy-staging")


def _is_xml(data: bytes) -> bool:
    # Editors on Windows write a byte-order mark; the parser reports anything subtler with its line.
    return data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"


def _read_uploads() -> tuple[list[tuple[str, bytes]], list[str]]:
    """The chosen files as (name, bytes), and a sentence for each one refused before any lint."""
    files, refused = [], []
    chosen = [s for s in request.files.getlist("files") if s and s.filename]
    if not chosen:
        return [], [gettext("Choose one or more .bpmn files.")]
    if len(chosen) > MAX_FILES:
        return [], [gettext("Choose at most %(count)d files at once.", count=MAX_FILES)]
    for storage in chosen:
        name = forms.safe_filename(storage.filename)
        data = storage.stream.read(MAX_FILE_MB * 1024 * 1024 + 1)
        if len(data) > MAX_FILE_MB * 1024 * 1024:
            refused.append(gettext("%(name)s is larger than %(limit)d MB; a diagram may have at most %(limit)d MB.",
                                   name=name, limit=MAX_FILE_MB))
        elif not data.strip():
            refused.append(gettext("%(name)s is empty.", name=name))
        elif not _is_xml(data):
            refused.append(gettext("%(name)s is not an XML file. Choose the .bpmn file that the BPMN editor saved.",
                                   name=name))
        else:
            files.append((name, data))
    return files, refused


def _check(files):
    return services.check(alur().uow(write=False), files)


def _plan(report, files) -> list[dict]:
    """Each process the files hold and the version deploying makes of it (none when nothing changed)."""
    plan = []
    with alur().uow(write=False) as uow:
        for info in report.processes:
            latest = uow.deployments.latest(info.key)
            filename, data = report.sources[info.key]
            called = versions.companions(files, filename, report.specs[info.key][1])
            sha = versions.content_hash(data, called)
            unchanged = latest is not None and latest.sha256 == sha
            plan.append({"key": info.key, "name": info.name, "latest": latest.version if latest else None,
                         "next": None if unchanged else (latest.version + 1 if latest else 1)})
    return plan


def _render(report=None, files=(), token=None, upload_errors=(), note="", note_error=None, status=200):
    problems = sorted(report.problems, key=lambda p: (SEVERITY_ORDER.get(p.severity, 3), p.file, p.line or 0)) \
        if report else []
    return render_template(
        "admin/upload.html", report=report, problems=problems, files=[name for name, _ in files], token=token,
        plan=_plan(report, files) if report and report.ok else [], upload_errors=list(upload_errors), note=note,
        note_error=note_error, may_deploy=may_deploy(current_user.roles), max_mb=MAX_FILE_MB,
    ), status


@bp.route("/kelola/unggah")
@allowed(may_model)
def upload():
    _staging().sweep()
    return _render()[0]


@bp.route("/kelola/unggah", methods=["POST"])
@allowed(may_model)
def upload_check():
    files, refused = _read_uploads()
    if refused:
        return _render(upload_errors=refused, status=400)
    report = _check(files)
    token = _staging().put(current_user.username, files) if report.ok else None
    return _render(report, files, token, status=200 if report.ok else 422)


@bp.route("/kelola/unggah/terapkan", methods=["POST"])
@allowed(may_deploy)
def upload_deploy():
    staging = _staging()
    token = request.form.get("token")
    staged = staging.get(token, current_user.username)
    if staged is None:
        flash(gettext("The checked files are no longer on the server (they are kept for a day). Choose them again."),
              "error")
        return redirect(url_for("admin.upload"))
    note = (request.form.get("note") or "").strip()
    if not note:
        report = _check(staged.files)
        return _render(report, staged.files, token, note=note, status=400,
                       note_error=gettext("Say what changed and why; the note is kept with the version."))
    try:
        results, _ = services.deploy(alur().uow(), staged.files, actor=current_user.username, note=note)
    except DiagramInvalid:
        return _render(_check(staged.files), staged.files, status=422)
    staging.drop(token)
    for deployment, created in results:
        if created:
            flash(gettext("%(name)s deployed as version %(version)d.", name=deployment.name,
                          version=deployment.version), "success")
        else:
            flash(gettext("%(name)s is unchanged: version %(version)d already has exactly this diagram.",
                          name=deployment.name, version=deployment.version), "info")
    if len(results) == 1:
        return redirect(url_for("admin.process", key=results[0][0].key))
    return redirect(url_for("admin.processes"))


def init_app(app) -> None:
    """Let the deploy page receive several diagrams of up to MAX_FILE_MB each (the app's limit is for attachments).

    Registered before CSRF protection, which reads the form and so would apply the smaller limit first.
    """
    @app.before_request
    def _deploy_upload_limit():
        if request.endpoint == "admin.upload_check":
            request.max_content_length = MAX_FILES * MAX_FILE_MB * 1024 * 1024 + 1024 * 1024
