"""Contact sheets: one PNG per cluster of faces, and showing them in a window."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import cv2
import numpy as np

from facecore.errors import ImageError
from facecore.facestore import FaceStore
from facecore.images import read_image
from facecore.words import counted

if TYPE_CHECKING:
    from .review import Cluster

__all__ = ["contact_sheet", "show_sheets"]

log = logging.getLogger(__name__)
_TILE, _COLUMNS, _MOST, _TITLE = 112, 6, 24, 30
_WINDOW = "face-enroll review"


def _tile(store: FaceStore, face_id: str) -> np.ndarray | None:
    try:
        image = read_image(store.image_path(face_id), max_side=4 * _TILE)
    except ImageError as exc:
        log.warning("a face picture cannot be shown: %s", exc)
        return None
    scale = _TILE / max(image.shape[:2])
    image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    tile = np.zeros((_TILE, _TILE, 3), np.uint8)
    top, left = (_TILE - image.shape[0]) // 2, (_TILE - image.shape[1]) // 2
    tile[top:top + image.shape[0], left:left + image.shape[1]] = image
    return tile


def contact_sheet(store: FaceStore, cluster: "Cluster") -> bytes:
    """A PNG of the cluster's best faces (up to 24, best first), titled with its id and counts."""
    tiles = [t for t in (_tile(store, f.id) for f in cluster.faces[:_MOST]) if t is not None]
    columns = max(1, min(_COLUMNS, len(tiles)))
    rows = max(1, -(-len(tiles) // columns))
    sheet = np.full((_TITLE + rows * _TILE, max(columns * _TILE, 4 * _TILE), 3), 40, np.uint8)
    for i, tile in enumerate(tiles):
        y, x = _TITLE + (i // columns) * _TILE, (i % columns) * _TILE
        sheet[y:y + _TILE, x:x + _TILE] = tile
    title = (f"cluster {cluster.id}: {counted(len(cluster.faces), 'face')}, "
             f"{cluster.first_seen[:16]} .. {cluster.last_seen[:16]}")
    cv2.putText(sheet, title, (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError(f"cannot encode the contact sheet of cluster {cluster.id}")
    return png.tobytes()


def show_sheets(clusters: list["Cluster"]) -> None:
    """Show each cluster's sheet in a window, most faces first: any key shows the next, q or Esc stops."""
    from .capture import check_display

    check_display()
    cv2.namedWindow(_WINDOW, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
    try:
        for c in clusters:
            picture = cv2.imread(str(c.sheet)) if c.sheet else None
            if picture is None:
                continue
            cv2.imshow(_WINDOW, picture)
            if cv2.waitKey(0) & 0xFF in (ord("q"), 27):
                break
    finally:
        cv2.destroyWindow(_WINDOW)
        cv2.waitKey(1)
