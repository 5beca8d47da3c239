"""The HTTP API under ``/api`` (its reference: ``/docs``).

- ``POST /api/recognize``: an image (multipart field ``image``, or the raw bytes as the body)
  -> every face: box, name or ``unknown``, confidence;
- ``GET /api/events``: the event database's events, with ``face-enroll events``' filters;
- ``GET /api/events/summary``: one row per person per day per source (``--summary day``);
- ``GET /api/people``: everyone enrolled;
- ``WS /api/sightings``: each logged sighting as JSON, as it happens (face-live only).

With a password set, programs send ``Authorization: Bearer TOKEN`` (``face-web --new-token``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import PurePath

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from enroll.people import list_people
from facecore.eventdb import exists
from facecore.eventquery import day_summary, events

from .context import WebContext, get_context
from .eventfilters import MAX_LIMIT, EventQuery, event_query
from .files import face_url
from .uploads import decode_image, read_body, read_upload

__all__ = ["router", "query_events", "query_summary"]

router = APIRouter(prefix="/api", tags=["api"])


def query_events(context: WebContext, query: EventQuery, limit: int | None) -> list[dict]:
    """The events matching ``query`` (``[]`` without a database), each with its face's picture URL."""
    path = context.config.events.database
    filters = query.filters(limit)
    if not path or not exists(path):
        return []
    return [{**row, "face_url": face_url(row.get("face"))} for row in events(path, filters)]


def query_summary(context: WebContext, query: EventQuery) -> list[dict]:
    """The per-day summary of the sightings matching ``query`` (``[]`` without a database)."""
    path = context.config.events.database
    filters = query.filters(None)
    if not path or not exists(path):
        return []
    return day_summary(path, filters)


@router.post("/recognize", summary="Who is in this image?")
async def recognize(request: Request, context: WebContext = Depends(get_context)) -> dict:
    """Send a JPEG/PNG/... as the multipart field ``image`` or as the raw body. Answers
    ``{"faces": [{"box": [x1, y1, x2, y2], "name", "confidence", "score"}], "width", "height", "ms"}``
    (``name`` is ``unknown`` for a stranger; ``score``: the detector's confidence)."""
    web = context.config.web
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "send the image as the multipart field 'image' (or as the raw body)")
        data = await read_upload(upload, web)
    else:
        data = await read_body(request, web)
    image = await run_in_threadpool(decode_image, data, web, "the image")
    started = time.perf_counter()
    recognizer = await run_in_threadpool(context.recognizer)
    faces = await run_in_threadpool(recognizer.recognize, image)
    return {"faces": faces, "width": int(image.shape[1]), "height": int(image.shape[0]),
            "ms": round(1000 * (time.perf_counter() - started), 1)}


@router.get("/events", summary="Events: who was seen, where and when")
def api_events(query: EventQuery = Depends(event_query),
               limit: int = Query(50, ge=1, le=MAX_LIMIT, description="events at most, newest first"),
               context: WebContext = Depends(get_context)) -> dict:
    """The filters of ``face-enroll events``: ``name`` or ``unknown``, ``source``, ``since``/``until``
    (ISO time, or a span back from now: ``30m``, ``2h``, ``7d``), ``limit``."""
    return {"events": query_events(context, query, limit)}


@router.get("/events/summary", summary="Who was here each day: first and last seen, sightings")
def api_summary(query: EventQuery = Depends(event_query), context: WebContext = Depends(get_context)) -> dict:
    """One row per person per day per source, as ``face-enroll events --summary day --json``."""
    return {"days": query_summary(context, query)}


@router.get("/people", summary="Everyone enrolled")
def api_people(context: WebContext = Depends(get_context)) -> dict:
    """``{"people": [{"name", "photos", "in_model": "yes"|"no"|"outdated", "enrolled", "updated"}]}``."""
    config = context.config
    people = list_people(config.train.data, config.train.model)
    return {"people": [{"name": p.name, "photos": p.images, "in_model": p.in_bundle,
                        "enrolled": p.enrolled.isoformat() if p.enrolled else None,
                        "updated": p.updated.isoformat() if p.updated else None} for p in people]}


@router.websocket("/sightings")
async def sightings(websocket: WebSocket, context: WebContext = Depends(get_context)) -> None:
    """Each sighting face-live logs (a CSV row's cells and its ``event`` id), as one JSON text message."""
    from realtime.events.hub import SIGHTING

    await websocket.accept()
    if context.hub is None:
        await websocket.close(code=1000, reason="no live sources: sightings stream from face-live --web")
        return
    subscription = context.hub.subscribe([SIGHTING], maxsize=1000)
    closed = asyncio.create_task(websocket.receive())
    try:
        while not closed.done():
            message = await asyncio.to_thread(subscription.get, 0.5)
            if message is None:
                if subscription.closed:
                    break
                continue
            record = message.record
            face = record.get("face") or PurePath(str(record.get("snapshot") or "")).stem
            await websocket.send_json({**record, "face_url": face_url(face)})
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        subscription.close()
        closed.cancel()
