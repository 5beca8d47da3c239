"""The gate every request passes: the session cookie and the upload cap (:class:`SessionMiddleware`,
pure ASGI, so WebSockets pass it too), then login and CSRF (:func:`guard`, a dependency of
every route; :func:`require_csrf` for a route that wants to say so itself).

Rules (see :mod:`web.security`):

- a request is let in when its session logged in, or it carries a valid Bearer API token, or
  no password is set (then only with a loopback ``Host``: DNS rebinding is refused);
- a WebSocket opened by a page of another site (its ``Origin`` is not this host) is closed;
- otherwise a page redirects to ``/login``, an API call gets 401, a WebSocket is closed (1008);
- a POST (PUT, PATCH, DELETE) must carry its session's CSRF token (form field ``csrf_token`` or
  header ``X-CSRF-Token``), or a valid Bearer token; without a password a local program's
  POST to ``/api/...`` without an ``Origin`` header is let in (browsers always send one with a
  cross-site POST, so no web page can make such a request);
- a request body larger than ``web.max_upload_mb`` is refused (413) before it is read, one of
  unknown length (chunked) with 411.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import quote

from fastapi import HTTPException, WebSocketException
from starlette.requests import HTTPConnection, Request
from starlette.status import WS_1008_POLICY_VIOLATION

from .context import WebContext, session_of
from .security import LOOPBACK_NAMES, Security

__all__ = ["SessionMiddleware", "guard", "require_csrf", "check_login", "logged_in", "LoginNeeded", "COOKIE",
           "PUBLIC_PATHS", "is_api"]

COOKIE = "facecam_session"
PUBLIC_PATHS = ("/login", "/static/")  # reachable before logging in
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class LoginNeeded(Exception):
    """A page was asked for without a login: answered with a redirect to ``/login``."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def is_api(conn: HTTPConnection) -> bool:
    """Whether the request is for the API (answered in JSON) rather than a page."""
    path = conn.url.path
    return path.startswith("/api/") or path == "/api" or path == "/openapi.json"


def _cookie(scope: dict) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is as good as none
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class SessionMiddleware:
    """Finds the browser's session (or starts one, sending its cookie) and caps request bodies."""

    def __init__(self, app, context: WebContext) -> None:
        self.app, self.context = app, context

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        security: Security = self.context.security
        session = security.sessions.get(_cookie(scope))
        fresh = session is None
        if fresh and scope["type"] == "http":
            session = security.sessions.new(authenticated=not security.password_required)
        scope["facecam_session"] = session
        if scope["type"] == "http" and scope["method"] in _UNSAFE:
            refusal = self._body_refusal(scope)
            if refusal is not None:
                return await _json(send, *refusal)

        async def send_with_cookie(message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{COOKIE}={session.id}; Path=/; HttpOnly; SameSite=Strict"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie if session is not None else send)

    def _body_refusal(self, scope) -> tuple[int, str] | None:
        most = int(self.context.config.web.max_upload_mb * 1024 * 1024)
        length = _header(scope, b"content-length")
        if length is None:
            if _header(scope, b"transfer-encoding"):
                return 411, "send the body with a Content-Length"
            return None
        if not length.isdigit():
            return 400, "bad Content-Length"
        if int(length) > most:
            return 413, f"upload too large: {int(length)} bytes, at most {most} (web.max_upload_mb)"
        return None


async def _json(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _host_ok(conn: HTTPConnection) -> bool:
    host = (conn.headers.get("host") or "").lower()
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    return name in LOOPBACK_NAMES


def logged_in(conn: HTTPConnection) -> bool:
    """Whether the request may go in: no password is set, or its session logged in, or it carries a
    valid API token."""
    security = conn.app.state.context.security
    session = session_of(conn)
    return not security.password_required or (session is not None and session.authenticated) or \
        security.bearer_ok(conn.headers.get("authorization"))


def _same_origin(conn: HTTPConnection) -> bool:
    """Whether a WebSocket was opened by a page of this site (or by a program, which sends no
    ``Origin``): browsers let any page open a WebSocket anywhere, cookies and all."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1].rstrip("/").lower() == (conn.headers.get("host") or "").lower()


def check_login(conn: HTTPConnection) -> None:
    """Refuse a request that is not :func:`logged_in`: 401 for the API and WebSockets, a redirect to
    ``/login`` (:class:`LoginNeeded`) for a page. Also for a page that does not exist: what a site
    holds is nobody's business before logging in."""
    if logged_in(conn):
        return
    if conn.scope["type"] == "websocket" or is_api(conn):
        _refuse(conn, 401, "login required (or an API token: Authorization: Bearer TOKEN)")
    target = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
    raise LoginNeeded(f"/login?next={quote(target, safe='')}")


async def guard(conn: HTTPConnection) -> None:
    """Dependency of every route: let the request in, or refuse it (see the module's rules)."""
    security = conn.app.state.context.security
    if not security.password_required and not _host_ok(conn):
        _refuse(conn, 403, "this address is not served: use 127.0.0.1 (or set web.password)")
    if conn.scope["type"] == "websocket" and not _same_origin(conn):
        _refuse(conn, 403, "a WebSocket from another site")
    if not conn.url.path.startswith(PUBLIC_PATHS):
        check_login(conn)
    if conn.scope["type"] == "http" and conn.scope["method"] in _UNSAFE \
            and not security.bearer_ok(conn.headers.get("authorization")):
        await require_csrf(conn)


def _refuse(conn: HTTPConnection, status: int, message: str) -> None:
    if conn.scope["type"] == "websocket":
        raise WebSocketException(WS_1008_POLICY_VIOLATION, message)
    raise HTTPException(status, message)


async def require_csrf(conn: HTTPConnection) -> None:
    """Dependency: a POST must echo its session's CSRF token (header ``X-CSRF-Token`` or form field
    ``csrf_token``); 403 otherwise. (:func:`guard` already applies it to every route.)"""
    context: WebContext = conn.app.state.context
    if context.security.bearer_ok(conn.headers.get("authorization")):
        return
    session = session_of(conn)
    given = conn.headers.get("x-csrf-token")
    kind = conn.headers.get("content-type", "")
    if given is None and isinstance(conn, Request) and kind.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await conn.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if session is not None and given and hmac.compare_digest(given, session.csrf):
        return
    local_program = (not context.security.password_required and is_api(conn) and "origin" not in conn.headers
                     and conn.headers.get("sec-fetch-site", "none") in ("none", "same-origin"))
    if not local_program:
        raise HTTPException(403, "the form's CSRF token is missing or out of date: reload the page and try again")
