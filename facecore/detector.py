"""Face detection with MTCNN (the ``mtcnn`` package) on a downscaled copy of the frame."""

from __future__ import annotations

import logging
from typing import Sequence

import cv2
import numpy as np

from .app import load_tensorflow
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


# Input of each MTCNN stage network (the ``id`` of mtcnn's stages): PNet takes the whole
# (rescaled) image, RNet and ONet take batches of 24x24 and 48x48 patches.
_STAGE_INPUTS = {1: (None, None, None, 3), 2: (None, 24, 24, 3), 3: (None, 48, 48, 3)}


def _compile_stages(mtcnn) -> None:
    """Run each stage's Keras network as a ``tf.function`` (eager calls are ~3x slower).

    Each graph is traced once, here, for any batch and image size (``input_signature``
    with ``None`` dimensions): the pyramid's scales, a new frame size and each new number
    of candidate boxes reuse it. With shapes learnt from the calls instead, the first
    frame with a face and the first frame of a new size were traced again in the live
    loop (~0.3 s each).
    """
    import tensorflow as tf

    for stage in mtcnn.stages:
        spec = tf.TensorSpec(_STAGE_INPUTS[stage.id], tf.float32)
        stage._model = tf.function(stage._model, input_signature=[spec])
        stage._model.get_concrete_function()


class Detector:
    """MTCNN face detector.

    Faces are searched on a copy of the frame whose longest side is at most
    ``config.max_side`` (detecting at full resolution costs much more and finds
    nothing more at webcam distances); boxes and landmarks come back in the
    frame's own pixels. Build it once: building MTCNN loads three networks (and, with
    ``config.compiled``, traces each one for every input size, about 1 s).
    """

    def __init__(self, config: DetectorConfig | None = None, device: str = "CPU:0") -> None:
        load_tensorflow()
        from mtcnn import MTCNN

        self.config = config or DetectorConfig()
        self._mtcnn = MTCNN(device=device)
        if self.config.compiled:
            _compile_stages(self._mtcnn)

    def trace_counts(self) -> list[int] | None:
        """How often each stage's graph was traced (PNet, RNet, ONet); ``None`` when eager."""
        if not self.config.compiled:
            return None
        return [int(stage._model.experimental_get_tracing_count()) for stage in self._mtcnn.stages]

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
