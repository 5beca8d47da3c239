"""Face detection with MTCNN (the ``mtcnn`` package) on a downscaled copy of the frame."""

from __future__ import annotations

import logging
from typing import Sequence

import cv2
import numpy as np

from .config import DetectorConfig
from .faces import Faces

__all__ = ["Detector", "check_frame"]

log = logging.getLogger(__name__)


def check_frame(frame: object) -> np.ndarray:
    """Return ``frame`` if it is an RGB uint8 ``(h, w, 3)`` array; raise ``ValueError`` otherwise."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must have shape (h, w, 3), got {frame.shape}")
    return frame


def _compile_stages(mtcnn) -> None:
    """Run each stage's Keras network as a ``tf.function`` (eager calls are ~2x slower)."""
    import tensorflow as tf

    for stage in mtcnn.stages:
        stage._model = tf.function(stage._model, reduce_retracing=True)


class Detector:
    """MTCNN face detector.

    Faces are searched on a copy of the frame whose longest side is at most
    ``config.max_side`` (detecting at full resolution costs much more and finds
    nothing more at webcam distances); boxes and landmarks come back in the
    frame's own pixels. Build it once: building MTCNN loads three networks.
    """

    def __init__(self, config: DetectorConfig | None = None, device: str = "CPU:0") -> None:
        from mtcnn import MTCNN

        self.config = config or DetectorConfig()
        self._mtcnn = MTCNN(device=device)
        if self.config.compiled:
            _compile_stages(self._mtcnn)

    def _scale_for(self, frame: np.ndarray) -> float:
        longest = max(frame.shape[:2])
        return min(1.0, self.config.max_side / float(longest))

    def detect(self, frame: np.ndarray) -> Faces:
        """Faces in one RGB uint8 ``(h, w, 3)`` frame, best score first.

        An empty frame or a frame without faces gives an empty ``Faces``; a
        frame of the wrong type, dtype or shape raises ``TypeError``/``ValueError``.
        """
        check_frame(frame)
        if frame.shape[0] < 12 or frame.shape[1] < 12:
            return Faces.empty()
        scale = self._scale_for(frame)
        small = frame
        if scale < 1.0:
            size = (max(12, round(frame.shape[1] * scale)), max(12, round(frame.shape[0] * scale)))
            small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        raw = self._run(np.ascontiguousarray(small))
        return self._to_faces(raw, frame.shape, 1.0 / scale)

    def detect_many(self, frames: Sequence[np.ndarray]) -> list[Faces]:
        """``detect`` for each frame of a list."""
        return [self.detect(frame) for frame in frames]

    def _run(self, image: np.ndarray) -> np.ndarray:
        c = self.config
        out = self._mtcnn.detect_faces(
            image,
            box_format="xyxy",
            output_type="numpy",
            min_face_size=c.min_face_size,
            threshold_pnet=c.threshold_pnet,
            threshold_rnet=c.threshold_rnet,
            threshold_onet=c.threshold_onet,
        )
        return np.asarray(out, dtype=np.float32).reshape(-1, 16)

    def _to_faces(self, raw: np.ndarray, shape: tuple, factor: float) -> Faces:
        raw = raw[raw[:, 5] >= self.config.min_score]
        boxes = raw[:, 1:5] * factor
        h, w = shape[:2]
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        keep = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
        raw, boxes = raw[keep], boxes[keep]
        order = np.argsort(-raw[:, 5], kind="stable")
        # mtcnn's numpy rows hold the five x values, then the five y values
        landmarks = raw[:, 6:16].reshape(-1, 2, 5).transpose(0, 2, 1) * factor
        return Faces(boxes[order], raw[order, 5], landmarks[order])
