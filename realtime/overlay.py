"""Drawing on frames: boxes and labels per face, a stats panel, a banner.

``Overlay`` is configured once, then ``annotate(scene, faces, stale) -> scene``.
Frames are RGB uint8 ``(h, w, 3)``; colours below are RGB. Labels read
``name confidence #track``; a track still voting shows ``...`` (OpenCV's fonts have
no ``…``), a stale one is grey and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facecore.config import OverlayConfig
from facecore.faces import PENDING, UNKNOWN, Faces

__all__ = ["Overlay", "COLOURS", "label_text", "draw_label"]

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


def draw_label(scene: np.ndarray, text: str, left: int, bottom: int, colour: tuple, font_scale: float) -> tuple:
    """Draw ``text`` on a filled ``colour`` box whose lower-left corner is ``(left, bottom)``.

    Returns the box ``(x1, y1, x2, y2)``. Used for face labels (and by tests to render
    the expected pixels of a label).
    """
    (tw, th), base = cv2.getTextSize(text, _FONT, font_scale, 1)
    x1, y1, x2, y2 = left, bottom - th - base - 2 * _PAD, left + tw + 2 * _PAD, bottom
    cv2.rectangle(scene, (x1, y1), (x2, y2), colour, cv2.FILLED)
    cv2.putText(scene, text, (x1 + _PAD, y2 - base - _PAD), _FONT, font_scale, _ink(colour), 1, cv2.LINE_AA)
    return x1, y1, x2, y2


@dataclass(frozen=True)
class Overlay:
    config: OverlayConfig

    def annotate(self, scene: np.ndarray, faces: Faces, stale: np.ndarray | None = None) -> np.ndarray:
        """A copy of ``scene`` with each face's box and label drawn (``stale``: ``(n,)`` bool)."""
        out = np.ascontiguousarray(scene).copy()
        stale = np.zeros(len(faces), bool) if stale is None else np.asarray(stale, bool)
        h, w = out.shape[:2]
        for box, name, conf, track, old in zip(faces.boxes, faces.names, faces.confidences, faces.track_ids, stale):
            colour = COLOURS[_kind(str(name), bool(old))]
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            x1, x2 = max(0, min(w - 1, x1)), max(0, min(w - 1, x2))
            y1, y2 = max(0, min(h - 1, y1)), max(0, min(h - 1, y2))
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, self.config.thickness)
            text = label_text(str(name), float(conf), int(track), bool(old))
            (_, th), base = cv2.getTextSize(text, _FONT, self.config.font_scale, 1)
            height = th + base + 2 * _PAD
            bottom = y1 if y1 >= height else min(h - 1, y1 + height)  # inside the box at the top edge
            draw_label(out, text, x1, bottom, colour, self.config.font_scale)
        return out

    def panel(self, scene: np.ndarray, lines: list[str], corner: str = "top-left") -> np.ndarray:
        """Draw ``lines`` of white text on a dark box in a corner of ``scene`` (in place; returned)."""
        if not lines:
            return scene
        scale = max(0.4, self.config.font_scale * 0.8)
        sizes = [cv2.getTextSize(line, _FONT, scale, 1) for line in lines]
        step = max(th + base for (_, th), base in sizes) + _PAD
        width = max(tw for (tw, _), _ in sizes) + 2 * _PAD
        height = step * len(lines) + _PAD
        h, w = scene.shape[:2]
        x0 = 0 if corner.endswith("left") else max(0, w - width)
        y0 = 0 if corner.startswith("top") else max(0, h - height)
        region = scene[y0:y0 + height, x0:x0 + width]
        region[:] = (region.astype(np.uint16) * 3 // 10).astype(np.uint8)  # darken, keep the picture visible
        for i, line in enumerate(lines):
            y = y0 + (i + 1) * step - _PAD
            cv2.putText(scene, line, (x0 + _PAD, y), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
        return scene
