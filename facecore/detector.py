"""Face detection with MTCNN (the ``mtcnn`` package) on a downscaled copy of the frame."""

from __future__ import annotations

import logging
from typing import Sequence

import cv2
import numpy as np

from .app import load_tensorflow
from .config import DetectorConfig
from .faces import Faces

__all__ = ["Detector", "check_frame", "search_size"]

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


def _prepare_stages(mtcnn, compiled: bool) -> None:
    """Make RNet and ONet take patches with pixel values in [0, 255] (normalising them
    inside), so that their patches can be cut from the uint8 frame without a float copy
    of it; with ``compiled``, run each stage's network as a ``tf.function`` (eager calls
    are ~3x slower).

    Each graph is traced once, here, for any batch and image size (``input_signature``
    with ``None`` dimensions): the pyramid's scales, a new frame size and each new number
    of candidate boxes reuse it. With shapes learnt from the calls instead, the first
    frame with a face and the first frame of a new size were traced again in the live
    loop (~0.3 s each).
    """
    import tensorflow as tf

    for stage in mtcnn.stages:
        run = stage._model
        if stage.id != 1:
            run = _from_pixels(run)
        if compiled:
            run = tf.function(run, input_signature=[tf.TensorSpec(_STAGE_INPUTS[stage.id], tf.float32)])
            run.get_concrete_function()
        stage._model = run


def _from_pixels(model):
    def run(patches):
        return model((patches - 127.5) * (1.0 / 128.0))
    return run


def search_size(min_face_size: int) -> int:
    """The smallest face PNet's image pyramid is built for: a little below ``min_face_size``.

    At exactly its smallest size (the 12-pixel window of PNet) MTCNN misses many faces, so
    the pyramid starts at 0.8 x ``min_face_size`` (not below 12, which would upsample)
    to find faces of ``min_face_size`` and up reliably.
    """
    return max(12, round(0.8 * min_face_size))


def _downscaled(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``frame`` shrunk so that its longest side is at most ``max_side``, and the scale used."""
    scale = min(1.0, max_side / float(max(frame.shape[:2])))
    if scale >= 1.0:
        return np.ascontiguousarray(frame), 1.0
    size = (max(12, round(frame.shape[1] * scale)), max(12, round(frame.shape[0] * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), scale


def _normalized(image: np.ndarray) -> np.ndarray:
    """A batch of one image as MTCNN's networks take it: float32 in [-1, 1)."""
    out = image.astype(np.float32)[None]
    out -= 127.5
    out *= 1.0 / 128.0
    return out


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
        _prepare_stages(self._mtcnn, self.config.compiled)

    def trace_counts(self) -> list[int] | None:
        """How often each stage's graph was traced (PNet, RNet, ONet); ``None`` when eager."""
        if not self.config.compiled:
            return None
        return [int(stage._model.experimental_get_tracing_count()) for stage in self._mtcnn.stages]

    def detect(self, frame: np.ndarray) -> Faces:
        """Faces in one RGB uint8 ``(h, w, 3)`` frame, best score first.

        An empty frame or a frame without faces gives an empty ``Faces``; a
        frame of the wrong type, dtype or shape raises ``TypeError``/``ValueError``.
        """
        check_frame(frame)
        if frame.shape[0] < 12 or frame.shape[1] < 12:
            return Faces.empty()
        c = self.config
        small, small_scale = _downscaled(frame, c.max_side)
        fine, fine_scale = small, small_scale  # refine_side up to max_side: check on the detection copy
        if c.refine_side == 0 or c.refine_side > c.max_side:
            fine, fine_scale = _downscaled(frame, c.refine_side or max(frame.shape[:2]))
        raw = self._run(small, fine, fine_scale / small_scale)
        return self._to_faces(raw, frame.shape, 1.0 / fine_scale)

    def detect_many(self, frames: Sequence[np.ndarray]) -> list[Faces]:
        """``detect`` for each frame of a list."""
        return [self.detect(frame) for frame in frames]

    def _run(self, small: np.ndarray, fine: np.ndarray, factor: float) -> np.ndarray:
        """MTCNN's three stages: PNet proposes boxes on ``small``; RNet and ONet check them
        on patches of ``fine`` (``factor`` times larger; it may be ``small`` itself), where
        small faces keep the detail that the downscale took. Rows as ``mtcnn``'s numpy
        output, in ``fine``'s pixels."""
        import tensorflow as tf

        c = self.config
        pnet, rnet, onet = self._mtcnn.stages
        none = np.empty((0, 16), np.float32)
        try:
            boxes = pnet(images_normalized=_normalized(small), images_oshapes=np.array([small.shape]),
                         min_face_size=search_size(c.min_face_size), threshold_pnet=c.threshold_pnet)
            if len(boxes) == 0:
                return none
            boxes[:, 1:5] *= factor
            pixels = tf.convert_to_tensor(fine[None])  # uint8: RNet and ONet normalise their patches
            boxes = rnet(images_normalized=pixels, bboxes_batch=boxes, threshold_rnet=c.threshold_rnet)
            if len(boxes) == 0:
                return none
            boxes = onet(images_normalized=pixels, bboxes_batch=boxes, threshold_onet=c.threshold_onet)
        except tf.errors.InvalidArgumentError:  # mtcnn's way of saying that no candidate is left
            return none
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 16)

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
