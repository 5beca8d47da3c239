"""The app: :func:`create_app` puts the routers, the gate and the error handlers around a
:class:`~web.context.WebContext`.

Every route passes :func:`web.guard.guard` (login, CSRF) and the session middleware (cookie,
upload cap). A page module exposes ``router`` (an ``APIRouter``) and is listed in
:data:`ROUTERS`.
"""

from __future__ import annotations

from importlib import import_module

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from .context import STATIC, WebContext
from .errors import install_error_handlers
from .guard import SessionMiddleware, guard

__all__ = ["create_app", "ROUTERS"]

# The modules whose ``router`` the app serves, in order (a page's module: its routes and its API).
ROUTERS = (
    "web.auth",  # /login, /logout, /tokens
    "web.files",  # /faces/{id}.jpg
    "web.live",  # /  and its WebSocket
    "web.events_page",  # /events, /events.csv
    "web.api",  # /api/recognize, /api/events, /api/people, /api/sightings
    "web.docs",  # /docs: the API's reference, from its OpenAPI schema
    "web.people",  # /people: enrolled people, upload, remove, retrain
    "web.review",  # /review: the strangers' clusters, naming, merging, discarding, corrections
)


def create_app(context: WebContext) -> FastAPI:
    """The FastAPI app serving ``context`` (``context.hub`` ``None``: no live sources, as face-web)."""
    app = FastAPI(title="facecam", description="Who is in front of the cameras: live tiles, people, review, "
                  "events, and recognition of any image.", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(guard)])
    app.state.context = context
    for name in ROUTERS:
        app.include_router(import_module(name).router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    install_error_handlers(app)
    app.add_middleware(SessionMiddleware, context=context)
    return app
