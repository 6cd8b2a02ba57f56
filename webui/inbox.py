"""Tugas Saya: the inbox of ready work items, claim, release and reassign."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine import casefile, worklist
from webui.safety import local_path

bp = Blueprint("inbox", __name__)
FILTERS = ("overdue", "mine", "unclaimed")


def _uow(write=True):
    return current_app.extensions["alur"].uow(write=write)


def _query() -> worklist.InboxQuery:
    show = request.args.get("show", "")
    try:
        page = max(1, min(int(request.args.get("page", "1")), 100_000))
    except ValueError:
        page = 1
    return worklist.InboxQuery(
        key=request.args.get("sop") or None, overdue=show == "overdue", mine=show == "mine",
        unclaimed=show == "unclaimed", sort="waiting" if request.args.get("sort") == "waiting" else "due", page=page,
        count_limit=int(current_app.config.get("INBOX_COUNT_LIMIT", worklist.COUNT_LIMIT)),
    )


@bp.route("/")
@login_required
def home():
    return redirect(url_for("inbox.index"))


@bp.route("/tugas")
@login_required
def index():
    # One transaction, with the grants the request already loaded for current_user.
    page = worklist.inbox_page(_uow(write=False), current_user.username, _query(), roles=current_user.roles)
    return render_template("inbox.html", page=page, entries=page.entries, query=page.query, pages=page.pages,
                           show=request.args.get("show", ""), processes=page.processes)


def _visible(item_id: str) -> None:
    """A step of an office outside the user's grants is answered as if its id did not exist."""
    casefile.check_not_hidden(_uow(write=False), viewer=current_user.username, work_item_id=item_id)


def _back(item_id: str):
    return redirect(local_path(request.form.get("next"), url_for("tasks.show", item_id=item_id)))


@bp.route("/tugas/<item_id>/ambil", methods=["POST"])
@login_required
def claim(item_id):
    _visible(item_id)
    worklist.claim(_uow(), item_id, actor=current_user.username)
    flash(gettext("You took this step; the other holders of the role no longer see it."), "success")
    return _back(item_id)


@bp.route("/tugas/<item_id>/lepas", methods=["POST"])
@login_required
def release(item_id):
    _visible(item_id)
    with _uow(write=False) as uow:
        item = uow.work_items.get(item_id)
    was_claimed = bool(item and item.claimed_by)
    worklist.release(_uow(), item_id, actor=current_user.username)
    if was_claimed:
        flash(gettext("The step is back in the inbox of every holder of its role."), "success")
    else:
        flash(gettext("Nobody had claimed this step, so there was nothing to release."), "info")
    return _back(item_id)


@bp.route("/tugas/<item_id>/alihkan", methods=["POST"])
@login_required
def reassign(item_id):
    _visible(item_id)
    to_user = (request.form.get("to_user") or "").strip()
    worklist.reassign(_uow(), item_id, actor=current_user.username, to_user=to_user)
    flash(gettext("The step now belongs to %(user)s.", user=to_user), "success")
    return _back(item_id)
