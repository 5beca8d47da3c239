"""What every page and API route of one app shares: :class:`WebContext`.

Routes get it with ``Depends(get_context)`` (or ``request.app.state.context``) and render pages
with :meth:`WebContext.render`, which hands each template the session's CSRF token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from facecore.config import Config

from .desk import SharedModels
from .security import Security, Session

__all__ = ["WebContext", "get_context", "session_of", "TEMPLATES", "STATIC"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class WebContext:
    """One app's state.

    ``config``: the command's config (paths already inside the workspace ``root``);
    ``hub``: face-live's hub (``None`` under face-web: no live sources); ``sources``: the
    names of face-live's sources, in order; ``recognizer_factory``: builds the
    :class:`web.recognition.ImageRecognizer` for ``/api/recognize`` (once, on first use; tests
    give a fake); ``models``: the detector and backbone that it and the People and Review pages
    share (:class:`web.desk.SharedModels`).
    """

    config: Config
    root: Path
    hub: Any = None
    sources: list[str] = field(default_factory=list)
    recognizer_factory: Callable[[Config], Any] | None = None
    security: Security = field(init=False)
    models: SharedModels = field(init=False)
    templates: Jinja2Templates = field(init=False)
    feed: Any = field(default=None, init=False)  # the Live page's web.feed.LiveFeed, started on first use
    _recognizer: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.security = Security(self.config.web)
        self.models = SharedModels(self.config)
        self.templates = Jinja2Templates(directory=str(TEMPLATES))

    def recognizer(self) -> Any:
        """The image recogniser, built on first use (seconds: MTCNN, the backbone), then kept warm."""
        with self._lock:
            if self._recognizer is None:
                factory = self.recognizer_factory
                if factory is None:
                    from .recognition import ImageRecognizer

                    factory = lambda config: ImageRecognizer.build(config, self.models)  # noqa: E731
                self._recognizer = factory(self.config)
            return self._recognizer

    def render(self, request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        """``template`` rendered with ``values``, the session's ``csrf_token``, ``logged_in`` and ``page``."""
        session = session_of(request)
        values.setdefault("page", "")
        return self.templates.TemplateResponse(request, template, {
            "csrf_token": session.csrf if session else "",
            "password_required": self.security.password_required,
            "logged_in": bool(session and session.authenticated), **values}, status_code=status_code)


def get_context(conn: HTTPConnection) -> WebContext:
    """FastAPI dependency: the app's :class:`WebContext`."""
    return conn.app.state.context


def session_of(conn: HTTPConnection) -> Session | None:
    """The browser session the guard found or made for this request (``None`` when there is none)."""
    return conn.scope.get("facecam_session")
