"""Pure measures of one face: head pose from the 5 landmarks, sharpness, brightness, a
thumbnail for near-duplicate checks, and one ranking score built from them.

They serve the enrollment quality gate (``enroll.quality``) and the live face store,
which keeps each logged track's best few faces (:func:`measure_face`).

Pose convention: ``yaw > 0`` when the person turns to *their* left (the nose moves
to the right of the unmirrored image), ``pitch > 0`` when they look up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .config import CaptureConfig
from .crops import extract_crops
from .faces import Faces

__all__ = ["estimate_pose", "face_patch", "sharpness", "brightness", "thumbnail", "similarity",
           "FaceQuality", "measure_face"]

_PATCH = 112  # faces are measured at this size, so thresholds do not depend on face size
_THUMB = 16  # small and blurred: ignores detection jitter, keeps pose and expression
_NOSE_DEPTH = 0.5  # how far the nose tip stands out of the eye plane, in eye distances
_NEUTRAL_NOSE = 0.55  # frontal: the nose sits this far down from the eye line to the mouth line


def estimate_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """``(yaw, pitch)`` in degrees from ``(5, 2)`` landmarks (eyes, nose, mouth corners).

    The face is first rotated so the eyes are level (roll removed); yaw comes from
    how far the nose is off the midline of eyes and mouth, pitch from where the nose
    sits between the eye line and the mouth line. Rough (a few degrees), but
    monotonic, which is what asking for "a little left" needs.
    """
    marks = np.asarray(landmarks, np.float64).reshape(5, 2)
    left_eye, right_eye = marks[0], marks[1]
    dx, dy = right_eye - left_eye
    eye_dist = math.hypot(dx, dy)
    if eye_dist < 1e-6:
        return 0.0, 0.0
    c, s = dx / eye_dist, dy / eye_dist
    level = (marks - marks[:2].mean(axis=0)) @ np.array([[c, -s], [s, c]])
    eye_y, mouth_y = level[:2, 1].mean(), level[3:, 1].mean()
    midline_x = np.mean(level[[0, 1, 3, 4], 0])
    nose_x, nose_y = level[2]
    yaw = math.degrees(math.atan2(nose_x - midline_x, _NOSE_DEPTH * eye_dist))
    span = max(mouth_y - eye_y, 1e-6)
    pitch = math.degrees(math.atan2((_NEUTRAL_NOSE - (nose_y - eye_y) / span) * span, _NOSE_DEPTH * eye_dist))
    return float(yaw), float(pitch)


def face_patch(image: np.ndarray, faces: Faces) -> np.ndarray:
    """The first face of ``faces`` as a ``(112, 112)`` uint8 grey patch, eyes level, no margin."""
    crop = extract_crops(image, faces[[0]], _PATCH, margin=0.0, align=True)[0]
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian of a uint8 grey patch: low when blurred."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def brightness(grey: np.ndarray) -> float:
    """Mean grey level (0..255) of a uint8 grey patch."""
    return float(np.mean(grey))


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """``(16*16,)`` float32, zero mean, unit length: ``thumbnail(a) @ thumbnail(b)`` is
    their correlation, insensitive to overall brightness and contrast. Measured on the
    real clips: about 0.98 for consecutive frames, 0.8 one second apart."""
    soft = cv2.GaussianBlur(grey, (0, 0), 2.0)
    small = cv2.resize(soft, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    small -= small.mean()
    norm = float(np.linalg.norm(small))
    return small / norm if norm > 1e-6 else small


def similarity(thumb: np.ndarray, kept: list[np.ndarray]) -> float:
    """Highest correlation of ``thumb`` with any kept thumbnail (-1 when none is kept)."""
    if not kept:
        return -1.0
    return float(np.max(np.stack(kept) @ thumb))


@dataclass(frozen=True)
class FaceQuality:
    """The enrollment gate's measures of one face, and ``score`` in (0, 1) ranking faces of one
    person: higher is sharper, larger and more frontal."""

    sharpness: float
    brightness: float
    yaw: float
    pitch: float
    size: float
    score: float

    def as_dict(self) -> dict:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def measure_face(image: np.ndarray, face: Faces, capture: CaptureConfig) -> FaceQuality:
    """Measure the first face of ``face`` in RGB ``image``.

    ``score`` multiplies three factors, each 1/2 exactly at the gate's own limit
    (``capture``): sharpness ``s / (s + min_sharpness)``, size ``px / (px + min_face_px)``,
    and frontality ``1 / (1 + (yaw / 2 yaw_deg)^2 + (pitch / 2 pitch_deg)^2)``. It only
    ranks faces (the best few of a track are kept); it decides nothing on its own.
    """
    grey = face_patch(image, face)
    sharp, size = sharpness(grey), float(face.sizes[0])
    yaw, pitch = estimate_pose(face.landmarks[0])
    frontal = 1.0 / (1.0 + (yaw / (2.0 * max(capture.yaw_deg, 1.0))) ** 2
                     + (pitch / (2.0 * max(capture.pitch_deg, 1.0))) ** 2)
    score = sharp / (sharp + max(capture.min_sharpness, 1.0)) * size / (size + capture.min_face_px) * frontal
    return FaceQuality(sharp, brightness(grey), yaw, pitch, size, score)
