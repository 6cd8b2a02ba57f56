"""Request hygiene shared by every blueprint: local redirects only, no NUL bytes, security headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, request

# bpmn-js sets inline styles on the SVG it draws; scripts come only from this site.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


FORM_ENDPOINTS = {"tasks.submit", "cases.start"}
CACHEABLE_ENDPOINTS = {"static", "vendor.asset"}


def local_path(target: str | None, fallback: str) -> str:
    """`target` when it is a path on this site, else `fallback` (no open redirects, no header injection)."""
    if not target or any(ord(ch) < 32 or ch in "\\\x7f" for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def _has_nul(values) -> bool:
    return any("\x00" in v for v in values)


def init_app(app) -> None:
    @app.before_request
    def _refuse_nul_bytes():
        # No stored text may hold a NUL (PostgreSQL refuses them), so such a request is malformed, not a 500.
        # Form pages drop control characters from what is typed (forms.clean); elsewhere a NUL is malformed.
        form_page = request.endpoint in FORM_ENDPOINTS
        if "\x00" in request.path or _has_nul(request.args.values()) or (
                request.method == "POST" and not form_page and _has_nul(request.form.values())):
            abort(400)

    @app.after_request
    def _headers(response):
        policy = response.headers.setdefault("Content-Security-Policy", CSP)
        if "frame-ancestors" not in policy:  # a view's own, stricter policy may still not be framed
            response.headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; frame-ancestors 'none'"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        cache = response.headers.get("Cache-Control", "")
        if request.endpoint not in CACHEABLE_ENDPOINTS and "private" not in cache and "no-store" not in cache:
            # Pages and downloads hold citizens' data: never kept in a cache, nor shown by Back after logout on a
            # shared office computer. The site's own scripts and styles are cached, and what a view marks private.
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
