"""The People page (``/people``): everyone enrolled, adding a person or photos by upload, removing
someone (``--everywhere`` or not), retraining with its progress. The work is
:mod:`web.people_ops`; this module turns requests into its calls and its answers into JSON or
the page.

Routes (each POST carries the session's CSRF token, :mod:`web.guard`):

- ``GET /people``: the page; ``GET /people/photos/{folder}/{number}``: a photo, by number;
- ``POST /people/add``: multipart ``name``, ``photos`` (one or more files), ``retrain`` (``1``:
  start a retraining when any photo was kept); each upload within ``web.max_upload_mb`` and
  ``web.max_pixels`` (413), the gate's refusals per photo in ``rejected``;
- ``POST /people/remove``: ``name``, ``everywhere`` (``1``);
- ``POST /people/retrain`` starts the retraining; ``GET /people/retrain``: how it goes.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from facecore.errors import FacecamError

from . import people_ops
from .context import WebContext, get_context
from .desk import Desk
from .errors import error_response
from .files import send_inside
from .errors import status_of
from .jobs import Busy
from .uploads import decode_image, read_upload

__all__ = ["router", "desk_of", "failed"]

router = APIRouter()
_making = threading.Lock()


def desk_of(context: WebContext, request: Request) -> Desk:
    """The app's :class:`~web.desk.Desk` (made on first use, one per app)."""
    with _making:
        desk = getattr(request.app.state, "desk", None)
        if desk is None:
            desk = request.app.state.desk = Desk(context.config, context.models, root=context.root)
        return desk


def failed(request: Request, exc: FacecamError, **extra) -> Response:
    """``exc`` as ``{"error": ...}`` (plus ``extra``) with its status (:func:`web.errors.status_of`)."""
    if extra:
        return JSONResponse({"error": str(exc), **extra}, status_code=status_of(exc))
    return error_response(request, status_of(exc), str(exc))


@router.get("/people", include_in_schema=False)
def people_page(request: Request, context: WebContext = Depends(get_context)) -> Response:
    desk = desk_of(context, request)
    return context.render(request, "people.html", page="people", people=people_ops.people(desk),
                          job=desk.jobs.state(), max_upload_mb=context.config.web.max_upload_mb)


@router.get("/people/photos/{folder}/{number}", include_in_schema=False)
def person_photo(folder: str, number: int, request: Request, context: WebContext = Depends(get_context)) -> Response:
    """The ``number``-th photo of ``folder`` (a listed person folder only; 404 otherwise)."""
    desk = desk_of(context, request)
    try:
        path = people_ops.photo_path(desk, folder, number)
    except FacecamError as exc:
        return failed(request, exc)
    return send_inside(path, desk.data)


async def _read_photos(photos: list[UploadFile], context: WebContext) -> list[tuple[str, bytes]]:
    """The uploads' bytes, each within the byte cap and, when it is an image at all, the pixel cap
    (413 naming the file). What is not an image goes on to the gate, which says so as the CLI does."""
    out = []
    for upload in photos:
        data = await read_upload(upload, context.config.web)
        if not data and not upload.filename:  # the file field left empty
            continue
        name = upload.filename or f"photo {len(out) + 1}"
        try:
            decode_image(data, context.config.web, what=name)
        except HTTPException as exc:
            if exc.status_code == 413:
                raise
        out.append((name, data))
    return out


@router.post("/people/add", include_in_schema=False)
async def add(request: Request, name: str = Form(...), retrain: str = Form(""),
              context: WebContext = Depends(get_context)) -> Response:
    desk = desk_of(context, request)
    form = await request.form()  # a file field left empty comes as a string: not a photo
    uploads = await _read_photos([f for f in form.getlist("photos") if isinstance(f, UploadFile)], context)
    try:
        out = await run_in_threadpool(people_ops.add_photos, desk, name, uploads)
    except people_ops.NothingImported as exc:
        return failed(request, exc, rejected=exc.result["rejected"], hints=exc.result["hints"])
    except FacecamError as exc:
        return failed(request, exc)
    if retrain == "1":
        out["job"] = _start_retrain(desk)
    return JSONResponse(out)


def _start_retrain(desk: Desk) -> dict:
    try:
        people_ops.retrain(desk)
    except Busy as exc:
        return {"state": "busy", "message": str(exc)}
    return desk.jobs.state()


@router.post("/people/remove", include_in_schema=False)
async def remove(request: Request, name: str = Form(...), everywhere: str = Form(""),
                 context: WebContext = Depends(get_context)) -> Response:
    desk = desk_of(context, request)
    try:
        out = await run_in_threadpool(people_ops.remove, desk, name, everywhere == "1")
    except FacecamError as exc:
        return failed(request, exc)
    out["job"] = desk.jobs.state()
    return JSONResponse(out)


@router.post("/people/retrain", include_in_schema=False)
def start_retrain(request: Request, context: WebContext = Depends(get_context)) -> Response:
    desk = desk_of(context, request)
    try:
        people_ops.retrain(desk)
    except FacecamError as exc:
        return failed(request, exc)
    return JSONResponse(desk.jobs.state(), status_code=202)


@router.get("/people/retrain", include_in_schema=False)
def retrain_state(request: Request, context: WebContext = Depends(get_context)) -> Response:
    """The current or last retraining: ``{"state": "none"}`` before the first."""
    return JSONResponse(desk_of(context, request).jobs.state() or {"state": "none"})
