"""One place where errors become pages: Alur's own errors, HTTP errors and anything unexpected."""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_babel import get_locale, gettext
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from engine.errors import AlurError

log = logging.getLogger("alur.web")

STATUS = {
    "not_found": 404,
    "not_permitted": 403,
    "task_not_ready": 409,
    "stale_instance": 409,
    "form_invalid": 400,
    "diagram_invalid": 400,
    "expression_invalid": 422,  # a condition or timer of the diagram failed while the case ran
    "engine_error": 422,
    "runaway_loop": 422,
}


def _titles():
    return {
        400: gettext("The request could not be processed"),
        403: gettext("Access denied"),
        404: gettext("Not found"),
        405: gettext("Not allowed"),
        409: gettext("Changed by someone else"),
        413: gettext("File too large"),
        422: gettext("The process could not continue"),
        429: gettext("Too many requests"),
        500: gettext("Something went wrong"),
    }


def _leads():
    return {
        "not_found": gettext("This item does not exist or was removed."),
        "not_permitted": gettext("You are not allowed to do this."),
        "task_not_ready": gettext("This step is no longer waiting: it was completed or cancelled meanwhile. Open "
                                  "the case to see where it stands now."),
        "stale_instance": gettext("Someone else changed this case at the same moment. Reload the page and try "
                                  "again; nothing was lost."),
        "form_invalid": gettext("Some of what was entered is not valid."),
        "engine_error": gettext("The process could not continue with these entries; nothing was saved."),
        "expression_invalid": gettext("The process could not continue with these entries; nothing was saved."),
        "runaway_loop": gettext("This case repeated the same loop too many times; ask an administrator to look at it."),
    }


CODES = {400: "bad_request", 403: "not_permitted", 404: "not_found", 405: "method_not_allowed", 409: "conflict",
         413: "too_large", 422: "engine_error", 429: "too_many_requests", 500: "internal_error"}


def explain(err: AlurError) -> tuple[int, str, str | None]:
    """(status, the translated lead sentence, the engine's own words as detail) of one of Alur's errors."""
    lead = _leads().get(err.code)
    return STATUS.get(err.code, 400), lead or str(err), str(err) if lead else None


def _wants_json() -> bool:
    """The modeler's script (JSON in, JSON accepted) gets its errors as JSON it can show, never an HTML page."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _page(status: int, message: str, detail: str | None = None, code: str | None = None):
    if _wants_json():
        body = {"error": code or CODES.get(status, "error"), "message": message, "detail": detail or ""}
        return jsonify(body), status
    title = _titles().get(status, gettext("Error"))
    try:
        return render_template("error.html", status=status, title=title, message=message, detail=detail), status
    except Exception:  # noqa: BLE001 - e.g. the database is gone and the page's header cannot load the user
        log.exception("the error page could not be rendered; answering the plain one")
        return _plain_page(title, message), status


def _plain_page(title: str, message: str) -> str:
    """The error page without the layout: it needs neither the database nor the current user."""
    lang, root = escape(str(get_locale() or "id")), escape(request.script_root)
    return (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)} · Alur</title>'
            f'<link rel="stylesheet" href="{root}/static/alur.css"></head><body><main><section class="card narrow '
            f'error-page"><h1>{escape(title)}</h1><p>{escape(message)}</p><p><a href="{root}/tugas">'
            f'{escape(gettext("Back to my tasks"))}</a></p></section></main></body></html>')


def init_app(app) -> None:
    @app.errorhandler(AlurError)
    def alur_error(err: AlurError):
        status, message, detail = explain(err)
        return _page(status, message, detail, err.code)

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        return _page(400, gettext("The form has expired or did not come from this site. Go back, reload the page "
                                  "and send it again."))

    @app.errorhandler(413)
    def too_large(err):
        limit = app.config["MAX_UPLOAD_MB"]
        return _page(413, gettext("The upload is larger than %(limit)s MB; nothing was saved.", limit=limit))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        messages = {
            404: gettext("There is no page at this address."),
            405: gettext("This address does not accept that kind of request."),
        }
        return _page(err.code or 500, messages.get(err.code, err.description or ""))

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        # Logged in full for the operator; the user sees no traceback, SQL or internals.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _page(500, gettext("The error was recorded. Nothing you entered was saved; please try again, "
                                  "and tell the administrator if it keeps happening."))
