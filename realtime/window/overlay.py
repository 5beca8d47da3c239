"""Drawing on frames: boxes and labels per face, a stats panel, a banner.

``Overlay`` is configured once, then ``annotate(scene, faces, stats) -> scene``.
Frames are RGB uint8 ``(h, w, 3)``; colours below are RGB. Labels read
``name confidence #track``; a track still voting shows ``...`` (OpenCV's fonts have
no ``…``), a stale one is grey and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from facecore.config import OverlayConfig
from facecore.faces import PENDING, UNKNOWN, Faces

__all__ = ["Overlay", "COLOURS", "label_text", "draw_label", "Mosaic", "MOSAIC_SIZE"]

COLOURS = {  # RGB
    "known": (0, 200, 0),
    "unknown": (220, 40, 40),
    "pending": (240, 190, 0),
    "stale": (150, 150, 150),
}
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PAD = 4


def label_text(name: str, confidence: float, track: int, stale: bool = False) -> str:
    """The text drawn above a face."""
    if name in (PENDING, ""):
        text = f"... #{track}"
    elif confidence > 0:
        text = f"{name} {confidence:.2f} #{track}"
    else:  # nobody enrolled: no score to show
        text = f"{name} #{track}"
    return text + " (stale)" if stale else text


def _kind(name: str, stale: bool) -> str:
    if stale:
        return "stale"
    if name in (PENDING, ""):
        return "pending"
    return "unknown" if name == UNKNOWN else "known"


def _ink(colour: tuple) -> tuple:
    """Black text on light colours, white on dark ones."""
    r, g, b = colour
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 110 else (255, 255, 255)


def draw_label(scene: np.ndarray, text: str, left: int, bottom: int, colour: tuple, font_scale: float,
               weight: int = 1) -> tuple:
    """Draw ``text`` (strokes ``weight`` px wide, padding as much times 4 px) on a filled ``colour``
    box whose lower-left corner is ``(left, bottom)``.

    Returns the box ``(x1, y1, x2, y2)``. Used for face labels (and by tests to render
    the expected pixels of a label).
    """
    (tw, th), base = cv2.getTextSize(text, _FONT, font_scale, weight)
    pad = _PAD * weight
    x1, y1, x2, y2 = left, bottom - th - base - 2 * pad, left + tw + 2 * pad, bottom
    cv2.rectangle(scene, (x1, y1), (x2, y2), colour, cv2.FILLED)
    cv2.putText(scene, text, (x1 + pad, y2 - base - pad), _FONT, font_scale, _ink(colour), weight, cv2.LINE_AA)
    return x1, y1, x2, y2


@dataclass(frozen=True)
class Overlay:
    """Draws on frames with ``config``; ``weight``: the text's stroke width in pixels."""

    config: OverlayConfig
    weight: int = 1

    def scaled(self, factor: float) -> "Overlay":
        """This overlay with text, lines and padding ``factor`` times larger (``factor`` >= 1: for a
        frame that is shrunk by that much before it is seen, so that its text stays readable)."""
        if factor <= 1.0:
            return self
        config = replace(self.config, font_scale=self.config.font_scale * factor,
                         thickness=max(1, round(self.config.thickness * factor)))
        return Overlay(config, max(1, round(self.weight * factor)))

    def annotate(self, scene: np.ndarray, faces: Faces, stats: list[str] | tuple = ()) -> np.ndarray:
        """A copy of ``scene`` with the ``stats`` lines in the top-left corner (:meth:`panel`), then
        each face's box and label over it, so that no label is hidden (grey for the faces whose
        ``stale`` column is true)."""
        out = self.panel(np.ascontiguousarray(scene).copy(), list(stats))
        stale = faces.column("stale", False).astype(bool)
        h, w = out.shape[:2]
        for box, name, conf, track, old in zip(faces.boxes, faces.names, faces.confidences, faces.track_ids, stale):
            colour = COLOURS[_kind(str(name), bool(old))]
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            x1, x2 = max(0, min(w - 1, x1)), max(0, min(w - 1, x2))
            y1, y2 = max(0, min(h - 1, y1)), max(0, min(h - 1, y2))
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, self.config.thickness)
            text = label_text(str(name), float(conf), int(track), bool(old))
            (_, th), base = cv2.getTextSize(text, _FONT, self.config.font_scale, self.weight)
            height = th + base + 2 * _PAD * self.weight
            bottom = y1 if y1 >= height else min(h - 1, y1 + height)  # inside the box at the top edge
            draw_label(out, text, x1, bottom, colour, self.config.font_scale, self.weight)
        return out

    def panel(self, scene: np.ndarray, lines: list[str], corner: str = "top-left") -> np.ndarray:
        """Draw ``lines`` of white text on a dark box in a corner of ``scene`` (in place; returned)."""
        if not lines:
            return scene
        scale = max(0.4, self.config.font_scale * 0.8)
        sizes = [cv2.getTextSize(line, _FONT, scale, self.weight) for line in lines]
        pad = _PAD * self.weight
        step = max(th + base for (_, th), base in sizes) + pad
        width = max(tw for (tw, _), _ in sizes) + 2 * pad
        height = step * len(lines) + pad
        h, w = scene.shape[:2]
        x0 = 0 if corner.endswith("left") else max(0, w - width)
        y0 = 0 if corner.startswith("top") else max(0, h - height)
        region = scene[y0:y0 + height, x0:x0 + width]
        region[:] = (region.astype(np.uint16) * 3 // 10).astype(np.uint8)  # darken, keep the picture visible
        for i, line in enumerate(lines):
            y = y0 + (i + 1) * step - pad
            cv2.putText(scene, line, (x0 + pad, y), _FONT, scale, (255, 255, 255), self.weight, cv2.LINE_AA)
        return scene


MOSAIC_SIZE = (1280, 720)  # width, height of the window's picture when it shows several sources


def _grid(n: int) -> tuple[int, int]:
    """(columns, rows) for ``n`` tiles, as square as possible, wider than tall."""
    cols = int(np.ceil(np.sqrt(n)))
    return cols, int(np.ceil(n / cols))


class Mosaic:
    """The window's picture for ``n`` sources: a grid of cells of one ``size`` picture, in order.

    ``cell(title, picture)`` fits a source's picture into a cell (letterboxed, its title in the
    top-right corner), once per new picture; ``compose(cells)`` pastes the cells together.
    """

    def __init__(self, n: int, overlay: Overlay, size: tuple = MOSAIC_SIZE) -> None:
        self.n, self.overlay, self.size = n, overlay, size
        self.cols, self.rows = _grid(n)
        self.cell_w, self.cell_h = size[0] // self.cols, size[1] // self.rows

    def overlay_for(self, shape: tuple) -> Overlay:
        """The overlay to draw a frame of ``shape`` ``(h, w, ...)`` with, whose text stays as large
        once the frame is shrunk into a cell as it is on a frame shown whole."""
        return self.overlay.scaled(max(shape[1] / self.cell_w, shape[0] / self.cell_h))

    def cell(self, title: str, picture: np.ndarray | None) -> np.ndarray:
        cell = np.full((self.cell_h, self.cell_w, 3), 24, np.uint8)
        if picture is not None:
            h, w = picture.shape[:2]
            scale = min(self.cell_w / w, self.cell_h / h)
            size = (max(1, int(w * scale)), max(1, int(h * scale)))
            fitted = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            top, left = (self.cell_h - size[1]) // 2, (self.cell_w - size[0]) // 2
            cell[top:top + size[1], left:left + size[0]] = fitted
        self.overlay.panel(cell, [title], "top-right")
        cv2.rectangle(cell, (0, 0), (self.cell_w - 1, self.cell_h - 1), (90, 90, 90), 1)
        return cell

    def compose(self, cells: list[np.ndarray | None]) -> np.ndarray:
        out = np.full((self.size[1], self.size[0], 3), 24, np.uint8)
        for i, cell in enumerate(cells):
            if cell is not None:
                x0, y0 = (i % self.cols) * self.cell_w, (i // self.cols) * self.cell_h
                out[y0:y0 + self.cell_h, x0:x0 + self.cell_w] = cell
        return out
