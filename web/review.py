"""The Review page (``/review``): the strangers face-live kept, grouped as ``face-enroll review``
groups them, as cards of faces (``id="cluster-<n>"``; each face ``id="face-<face id>"``, which
the Events page links to); naming a selection, merging, discarding; "not NAME" and "is NAME" on
any kept face, and undoing a "not". The work is :mod:`web.review_ops`.

Routes (each POST carries the session's CSRF token; a cluster action names the ``version`` its
page showed, and is answered 409 when the cluster changed since):

- ``GET /review``: the page (a first review is made when there is none);
- ``POST /review/regroup``: group the kept strangers afresh;
- ``POST /review/name``: ``cluster``, ``version``, ``name``, ``faces`` (ids, comma-separated;
  empty: all), ``force`` (``1``);
- ``POST /review/merge``: ``a``, ``version_a``, ``b``, ``version_b``, ``force``;
- ``POST /review/discard``: ``cluster``, ``version``;
- ``POST /review/correct``: ``face``, ``person``, ``how`` (``is`` or ``not``); ``POST /review/undo``: ``face``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from facecore.errors import FacecamError, UsageError

from . import review_ops
from .context import WebContext, get_context
from .files import face_url
from .people import desk_of, failed

__all__ = ["router"]

router = APIRouter()


async def _act(request: Request, context: WebContext, fn, *args, **kwargs) -> Response:
    """``fn(desk, *args, **kwargs)`` on a worker thread, as JSON; a facecam error as ``{"error"}``."""
    try:
        return JSONResponse(await run_in_threadpool(fn, desk_of(context, request), *args, **kwargs))
    except FacecamError as exc:
        return failed(request, exc)


@router.get("/review", include_in_schema=False)
async def review_page(request: Request, context: WebContext = Depends(get_context)) -> Response:
    desk = desk_of(context, request)
    if not context.config.faces.folder:
        return context.render(request, "review.html", page="review", clusters=[], named=[], corrections=[],
                              ungrouped=0, error="faces.folder is empty: face-live keeps no faces to review",
                              face_url=face_url)
    try:
        clusters = await run_in_threadpool(review_ops.clusters, desk)
        named = await run_in_threadpool(review_ops.named_faces, desk)
        corrections = await run_in_threadpool(review_ops.corrections, desk)
        ungrouped = await run_in_threadpool(review_ops.ungrouped, desk)
    except FacecamError as exc:
        return failed(request, exc)
    people = [p["name"] for p in await run_in_threadpool(_people, desk)]
    return context.render(request, "review.html", page="review", clusters=clusters, named=named,
                          corrections=corrections, people=people, ungrouped=ungrouped, error="", face_url=face_url)


def _people(desk):
    from .people_ops import people

    return people(desk)


@router.post("/review/regroup", include_in_schema=False)
async def regroup(request: Request, context: WebContext = Depends(get_context)) -> Response:
    return await _act(request, context, lambda desk: {"clusters": review_ops.regroup(desk)})


@router.post("/review/name", include_in_schema=False)
async def name(request: Request, cluster: int = Form(...), version: str = Form(...), name: str = Form(...),
               faces: str = Form(""), force: str = Form(""), context: WebContext = Depends(get_context)) -> Response:
    chosen = [f for f in faces.split(",") if f.strip()] or None
    return await _act(request, context, review_ops.name, cluster, version, name, chosen, force == "1")


@router.post("/review/merge", include_in_schema=False)
async def merge(request: Request, a: int = Form(...), version_a: str = Form(...), b: int = Form(...),
                version_b: str = Form(...), force: str = Form(""),
                context: WebContext = Depends(get_context)) -> Response:
    return await _act(request, context, review_ops.merge, a, version_a, b, version_b, force == "1")


@router.post("/review/discard", include_in_schema=False)
async def discard(request: Request, cluster: int = Form(...), version: str = Form(...),
                  context: WebContext = Depends(get_context)) -> Response:
    return await _act(request, context, review_ops.discard, cluster, version)


@router.post("/review/correct", include_in_schema=False)
async def correct(request: Request, face: str = Form(...), person: str = Form(...), how: str = Form(...),
                  context: WebContext = Depends(get_context)) -> Response:
    """``how``: ``is`` (``correct FACE --is PERSON``) or ``not`` (``--not PERSON``)."""
    if how not in ("is", "not"):
        return failed(request, UsageError(f"how must be 'is' or 'not', got {how!r}"))
    names = {"not_name": person} if how == "not" else {"is_name": person}
    return await _act(request, context, review_ops.correct, face, **names)


@router.post("/review/undo", include_in_schema=False)
async def undo(request: Request, face: str = Form(...), context: WebContext = Depends(get_context)) -> Response:
    return await _act(request, context, review_ops.undo, face)
