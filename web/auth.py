"""Logging in and out, and API tokens: ``/login``, ``/logout``, ``/tokens``.

A failed login says only that the login failed (there is one password: nothing tells which
part was wrong) and counts against the client's limit (``web.login_attempts`` a minute; then
429 with ``Retry-After``). A good login replaces the session (a new id and CSRF token), so a
session id seen before the login is worth nothing after it.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from .context import WebContext, get_context, session_of
from .guard import COOKIE

__all__ = ["router", "safe_next"]

router = APIRouter()
FAILED = "login failed"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only (never another host), else ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/", context: WebContext = Depends(get_context)) -> Response:
    if not context.security.password_required:
        return RedirectResponse(safe_next(next), status_code=303)
    return context.render(request, "login.html", page="login", next=safe_next(next), error="")


@router.post("/login", include_in_schema=False)
def login(request: Request, password: str = Form(""), next: str = Form("/"),
          context: WebContext = Depends(get_context)) -> Response:
    security = context.security
    client = request.client.host if request.client else "?"
    wait = security.limiter.blocked(client)
    if wait:
        raise HTTPException(429, f"too many failed logins: try again in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})
    if not security.password_required or not security.password_ok(password):
        security.limiter.failed(client)
        return context.render(request, "login.html", status_code=401, page="login", next=safe_next(next),
                              error=FAILED)
    old = session_of(request)
    if old is not None:
        security.sessions.end(old.id)
    session = security.sessions.new(authenticated=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", path="/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, context: WebContext = Depends(get_context)) -> Response:
    session = session_of(request)
    if session is not None:
        context.security.sessions.end(session.id)
    response = RedirectResponse("/login" if context.security.password_required else "/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/tokens", include_in_schema=False)
def tokens_page(request: Request, context: WebContext = Depends(get_context)) -> Response:
    return context.render(request, "tokens.html", page="tokens", count=context.security.tokens.count(), token="")


@router.post("/tokens", include_in_schema=False)
def new_token(request: Request, label: str = Form(""), context: WebContext = Depends(get_context)) -> Response:
    """Make an API token and show it once."""
    token = context.security.tokens.new(label.strip())
    return context.render(request, "tokens.html", page="tokens", count=context.security.tokens.count(), token=token)
