"""Pictures of kept faces, served by the face store's id, never by path: ``GET /faces/{id}.jpg``.

No route serves a file outside ``data/``: :func:`send_inside` checks that the file (links
resolved) lies in the folder it was asked from, and ids are checked against the face store's
pattern (``<UTC time>-<8 hex digits>``, :func:`facecore.facestore.new_face_id`) before any path
is made of them.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from facecore.facestore import FaceStore

from .context import WebContext, get_context

__all__ = ["router", "send_inside", "face_url", "FACE_ID", "valid_face_id"]

FACE_ID = re.compile(r"\d{8}T\d{9}-[0-9a-f]{8}")
router = APIRouter()


def valid_face_id(face_id: str) -> bool:
    return FACE_ID.fullmatch(face_id) is not None


def face_url(face_id: str | None) -> str:
    """The URL of a kept face's picture ("" for none)."""
    return f"/faces/{face_id}.jpg" if face_id and valid_face_id(face_id) else ""


def send_inside(path: Path, folder: Path, media_type: str = "image/jpeg") -> FileResponse:
    """``path`` as a response, only when it is a regular file inside ``folder`` (links resolved); 404 otherwise."""
    try:
        real, root = path.resolve(strict=True), folder.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HTTPException(404, "no such picture") from None
    if not real.is_relative_to(root) or not real.is_file():
        raise HTTPException(404, "no such picture")
    return FileResponse(real, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/faces/{face_id}.jpg", include_in_schema=False)
def face_picture(face_id: str, context: WebContext = Depends(get_context)) -> FileResponse:
    """The picture of the kept face ``face_id`` (404 when there is none)."""
    if not valid_face_id(face_id) or not context.config.faces.folder:
        raise HTTPException(404, "no such face")
    store = FaceStore(context.config.faces.folder)
    return send_inside(store.image_path(face_id), store.folder)
