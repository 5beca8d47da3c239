"""Every error as a clear message, never a stack trace: ``{"error": ...}`` with the right status
for the API (and for anything that does not ask for HTML), the error page for a browser.

facecam's own errors (:mod:`facecore.errors`) carry a one-line message meant for the user; a
usage or image error is the client's (400), a missing bundle is 503 (nothing to recognise
with yet), any other is 500 with its line. Anything unexpected is logged with its traceback
on the server and answered with 500 and no detail.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from facecore.errors import BundleError, DataError, FacecamError, ImageError, NothingKept, UsageError

from .guard import PUBLIC_PATHS, LoginNeeded, check_login, is_api

__all__ = ["install_error_handlers", "error_response", "status_of"]

log = logging.getLogger(__name__)


def _wants_html(request: Request) -> bool:
    return not is_api(request) and "text/html" in request.headers.get("accept", "")


def error_response(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """``message`` as the error page (a browser asking for a page) or as ``{"error": message}``."""
    if _wants_html(request):
        context = request.app.state.context
        response = context.render(request, "error.html", status_code=status, status=status, message=message)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def status_of(exc: FacecamError) -> int:
    """The HTTP status of one of facecam's errors: its own ``status`` when it has one (the web's
    conflicts and missing things, :mod:`web.jobs`), else by its kind."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    if isinstance(exc, NothingKept):
        return 404
    if isinstance(exc, (UsageError, ImageError, DataError)):
        return 400
    if isinstance(exc, BundleError):
        return 503
    return 500


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "bad request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(LoginNeeded)
    async def login_needed(request: Request, exc: LoginNeeded):
        return RedirectResponse(exc.target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code in (404, 405) and not request.url.path.startswith(PUBLIC_PATHS):
            try:
                check_login(request)  # no route: still nothing said before logging in
            except LoginNeeded as login:
                return RedirectResponse(login.target, status_code=303)
            except StarletteHTTPException as refused:
                return error_response(request, refused.status_code, str(refused.detail))
        return error_response(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error_response(request, 400, _validation_message(exc))

    @app.exception_handler(FacecamError)
    async def facecam_error(request: Request, exc: FacecamError):
        return error_response(request, status_of(exc), str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, "internal error (the server's log has the details)")
