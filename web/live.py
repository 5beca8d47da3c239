"""The Live page (``/``): one tile per source, updated in place through ONE WebSocket
(``/live/ws``) that carries every tile (an MJPEG stream per tile would stall past the browser's
6 connections per host). Boxes and names are drawn by the page from each view's JSON; the
names in view are also the tile's caption, as text.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response

from .context import WebContext, get_context
from .feed import LiveFeed, Viewer

__all__ = ["router", "feed_of"]

router = APIRouter()


def feed_of(context: WebContext) -> LiveFeed | None:
    """The app's live feed, started on first use; ``None`` without a hub (face-web)."""
    if context.hub is None:
        return None
    with context._lock:
        if context.feed is None:
            web = context.config.web
            context.feed = LiveFeed(context.hub, web.jpeg_quality, web.live_fps)
        return context.feed


@router.get("/", include_in_schema=False)
def live_page(request: Request, context: WebContext = Depends(get_context)) -> Response:
    return context.render(request, "live.html", page="live", sources=context.sources,
                          live=context.hub is not None)


async def _until_closed(websocket: WebSocket, viewer: Viewer) -> None:
    """Read (and ignore) what the page sends, until it goes; then end the viewer's wait."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    finally:
        viewer.close()


@router.websocket("/live/ws")
async def live_socket(websocket: WebSocket, context: WebContext = Depends(get_context)) -> None:
    """Every source's packets (see :mod:`web.feed`), each the newest when the page is ready for it."""
    feed = feed_of(context)
    await websocket.accept()
    if feed is None:
        await websocket.close(code=1000, reason="no live sources: face-web serves no cameras")
        return
    viewer = Viewer(asyncio.get_running_loop(), context.sources)
    feed.join(viewer)
    reader = asyncio.create_task(_until_closed(websocket, viewer))
    try:
        while packets := await viewer.next():
            for data in packets:
                await websocket.send_bytes(data)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        feed.leave(viewer)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
