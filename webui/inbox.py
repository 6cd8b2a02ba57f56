"""Tugas Saya: the inbox of ready work items, claim, release and reassign."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from engine import casefile, worklist
from webui.auth import reading
from webui.i18n import due, local_time
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


@bp.app_template_global()
def inbox_row(moment, token, here, claim_label, release_label):
    """A writer of the inbox's rows (<tr>), with what every row shares made once: the links around the ids (ids are
    UUIDs and numbers), the CSRF token, the page to come back to. Each value is escaped as Jinja's {{ }} would."""
    task_a, task_b = map(escape, url_for("tasks.show", item_id="__ITEM__").split("__ITEM__"))
    case_a = escape(url_for("cases.show", instance_id=0)[:-1])
    claim_a, claim_b = map(escape, url_for("inbox.claim", item_id="__ITEM__").split("__ITEM__"))
    release_a, release_b = map(escape, url_for("inbox.release", item_id="__ITEM__").split("__ITEM__"))
    # The Claim or Release form around the item's id: (before it, after it), by whether the item is claimed.
    forms = {claimed: (f'      <form method="post" action="{a}',
                       f'{b}">\n'
                       f'        <input type="hidden" name="csrf_token" value="{escape(token)}">\n'
                       f'        <input type="hidden" name="next" value="{escape(here)}">\n'
                       f'        <button type="submit">{escape(label)}</button>\n'
                       "      </form>\n")
             for claimed, a, b, label in ((True, release_a, release_b, release_label),
                                          (False, claim_a, claim_b, claim_label))}

    def row(entry) -> Markup:
        item, item_id = entry.item, escape(entry.item.id)
        late = item.overdue or (item.due_at and item.due_at <= moment)
        form_a, form_b = forms[bool(item.claimed_by)]
        return Markup("".join((
            f'<tr class="{"overdue" if late else ""}" data-item="{item_id}">\n'
            f'    <td><a href="{task_a}{item_id}{task_b}">{escape(item.step_name)}</a><br><small class="muted">'
            f"{escape(item.lane)}</small></td>\n"
            f"    <td>{escape(entry.process_name)}</td>\n"
            f'    <td><a href="{case_a}{escape(item.instance_id)}">{escape(entry.number)}</a></td>\n'
            f'    <td><time datetime="{escape(item.ready_at.isoformat())}">'
            f'{escape(local_time(item.ready_at, entry.timezone, "short"))}</time></td>\n'
            f"    <td>{due(item, entry.timezone)}</td>\n"
            f"    <td>{escape(item.claimed_by or '–')}</td>\n"
            '    <td class="actions">\n',
            form_a, item_id, form_b,
            "    </td>\n"
            "  </tr>")))

    return row


@bp.route("/")
@login_required
def home():
    return redirect(url_for("inbox.index"))


@bp.route("/tugas")
@login_required
def index():
    # One transaction, with the grants the request already loaded for current_user.
    page = worklist.inbox_page(reading(), current_user.username, _query(), roles=current_user.roles)
    return render_template("inbox.html", page=page, entries=page.entries, query=page.query, pages=page.pages,
                           show=request.args.get("show", ""), processes=page.processes)


def _visible(item_id: str) -> None:
    """A step of an office outside the user's grants is answered as if its id did not exist."""
    casefile.check_not_hidden(reading(), viewer=current_user.username, work_item_id=item_id)


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
    with reading() as uow:
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
