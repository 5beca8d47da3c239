"""Fakes for the two expensive models, for tests whose subject is the logic around them
(engine steps, tracking, votes, events), not the networks.

A *scene* is a synthetic RGB frame: grey, with solid squares whose colour stands for a
person. :class:`ColourDetector` finds the squares (as MTCNN would find faces) and
:class:`ColourRecognizer` names each crop by its colour (as the backbone and head would),
with a score that is high for a known colour and low for any other. Both follow the real
interfaces (``Detector.detect``; ``Recognizer.crops``/``recognize_crops``/``backbone``), and
neither imports TensorFlow, so such tests run in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from facecore.camera import Frame
from facecore.config import CropConfig, DetectorConfig
from facecore.faces import UNKNOWN, Faces
from facecore.recognizer import Decision

__all__ = ["PALETTE", "scene", "frames", "ColourDetector", "ColourRecognizer"]

GREY = 128
PALETTE = {"ada": (220, 40, 40), "grace": (40, 200, 40), "alan": (40, 40, 220), "stranger": (230, 230, 30)}


def scene(squares: list[tuple[str, int, int, int]], size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A ``size`` (h, w) RGB uint8 frame with a square of ``PALETTE[colour]`` for each
    ``(colour, x, y, side)``."""
    image = np.full((*size, 3), GREY, np.uint8)
    for colour, x, y, side in squares:
        image[y:y + side, x:x + side] = PALETTE[colour]
    return image


def frames(squares_per_frame: list[list[tuple[str, int, int, int]]], fps: float = 10.0) -> list[Frame]:
    """One :class:`Frame` per entry, numbered from 0, ``fps`` apart in source time."""
    return [Frame(i, scene(squares), i / fps) for i, squares in enumerate(squares_per_frame)]


@dataclass
class ColourDetector:
    """Finds the coloured squares of a :func:`scene`: every region that is not grey, as one
    face with score 0.99 and landmarks inside its box. ``calls`` counts the frames seen."""

    config: DetectorConfig = field(default_factory=DetectorConfig)
    calls: int = 0

    def detect(self, frame: np.ndarray) -> Faces:
        self.calls += 1
        mask = (np.abs(frame.astype(np.int16) - GREY).max(axis=2) > 20).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = [(x, y, x + w, y + h) for x, y, w, h, area in stats[1:count] if area >= 16]
        if not boxes:
            return Faces.empty()
        boxes = np.array(boxes, np.float32)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        w = boxes[:, 2] - boxes[:, 0]
        offsets = np.array([(-0.2, -0.1), (0.2, -0.1), (0.0, 0.05), (-0.15, 0.25), (0.15, 0.25)], np.float32)
        landmarks = np.stack([cx, cy], axis=1)[:, None, :] + offsets[None] * w[:, None, None]
        return Faces(boxes, np.full(len(boxes), 0.99, np.float32), landmarks)


@dataclass
class _Backbone:
    input_size: int = 8
    warmed: int = 0

    def warm_up(self, every_size: bool = False) -> None:
        self.warmed += 1


class ColourRecognizer:
    """Names a crop by its mean colour: the nearest of ``known`` (names of :data:`PALETTE`)
    scores 0.95, anything else (a colour not known) 0.2 and is ``unknown``. ``batches``
    records the size of every call, as the one batched model call of a step."""

    def __init__(self, known: list[str], threshold: float = 0.5) -> None:
        self.labels, self.threshold = list(known), threshold
        self.backbone = _Backbone()
        self.crop = CropConfig()
        self.batches: list[int] = []

    def crops(self, frame: np.ndarray, faces: Faces) -> np.ndarray:
        size = self.backbone.input_size
        out = []
        for x1, y1, x2, y2 in faces.boxes.astype(int):
            out.append(cv2.resize(frame[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_AREA))
        return np.array(out, np.uint8).reshape(-1, size, size, 3)

    def recognize_crops(self, crops: np.ndarray) -> Decision:
        self.batches.append(len(crops))
        names, scores = [], []
        for crop in crops:
            colour = crop.reshape(-1, 3).mean(axis=0)
            nearest = min(PALETTE, key=lambda n: float(np.abs(np.array(PALETTE[n]) - colour).sum()))
            known = nearest in self.labels
            names.append(nearest if known else UNKNOWN)
            scores.append(0.95 if known else 0.2)
        best = np.array([n if n != UNKNOWN else (self.labels[0] if self.labels else "") for n in names], object)
        features = np.eye(len(crops), 4, dtype=np.float32)
        return Decision(np.array(names, object), np.array(scores, np.float32), best, features)
