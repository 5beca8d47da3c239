"""Face crops for the backbone: one pure function used by training and the live loop alike."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .detector import check_frame
from .faces import Faces

__all__ = ["extract_crops", "crop_transforms"]


def _eye_angle(landmarks: np.ndarray) -> float:
    """Angle in degrees of the line from the left to the right eye (0 when unusable)."""
    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    dx, dy = rx - lx, ry - ly
    if dx <= 0 or not np.any(landmarks):
        return 0.0
    angle = math.degrees(math.atan2(dy, dx))
    return angle if abs(angle) <= 45.0 else 0.0


def crop_transforms(faces: Faces, size: int, margin: float, align: bool) -> np.ndarray:
    """``(n, 2, 3)`` float64 affine maps from frame pixels to ``size`` x ``size`` crop pixels.

    Each crop is the square around the face box's centre, its side the box's longer
    side times ``1 + margin``; with ``align`` it is rotated so the eyes are level.
    """
    mats = np.zeros((len(faces), 2, 3), np.float64)
    for i, (box, marks) in enumerate(zip(faces.boxes, faces.landmarks)):
        cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        side = max(box[2] - box[0], box[3] - box[1]) * (1.0 + margin)
        angle = _eye_angle(marks) if align else 0.0
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, size / float(side))
        m[:, 2] += (size / 2.0 - cx, size / 2.0 - cy)
        mats[i] = m
    return mats


def extract_crops(
    frame: np.ndarray, faces: Faces, size: int, margin: float = 0.2, align: bool = True
) -> np.ndarray:
    """Cut each face of ``faces`` out of ``frame``.

    ``frame``: ``(h, w, 3)`` uint8 RGB. Returns ``(n, size, size, 3)`` uint8 RGB; parts of
    a crop that fall outside the frame are black (the crop is clamped, never
    indexed out of bounds). Pure: ``frame`` is not modified.
    """
    check_frame(frame)
    out = np.zeros((len(faces), size, size, 3), np.uint8)
    for i, m in enumerate(crop_transforms(faces, size, margin, align)):
        out[i] = cv2.warpAffine(
            frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
    return out
