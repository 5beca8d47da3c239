"""Face detection with MTCNN on a downscaled copy of the frame.

:class:`FaceDetector` holds what does not depend on how the three networks run (the
downscale, the configuration, the rows to :class:`Faces`); :class:`Detector` runs them with
the ``mtcnn`` package on TensorFlow, :class:`facecore.litert.mtcnn.LiteDetector` with LiteRT
and NumPy. :func:`build_detector` picks one for a runtime.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from .app import load_tensorflow
from .config import DetectorConfig
from .faces import Faces
from .mtcnn_stages import ROW, build_stages, run_stages, trace_counts

__all__ = ["FaceDetector", "Detector", "build_detector", "check_frame", "search_size", "RUNTIMES"]

RUNTIMES = ("tensorflow", "litert")  # how the networks run: the mtcnn package on TensorFlow, or LiteRT

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


class FaceDetector:
    """An MTCNN face detector; subclasses say how its networks run (:meth:`_run`).

    Faces are searched on a copy of the frame whose longest side is at most
    ``config.max_side`` (detecting at full resolution costs much more and finds
    nothing more at webcam distances); boxes and landmarks come back in the
    frame's own pixels.
    """

    config: DetectorConfig

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

    def _run(self, small: np.ndarray, fine: np.ndarray, factor: float) -> np.ndarray:
        """MTCNN's rows (:data:`facecore.mtcnn_stages.ROW`) in ``fine``'s pixels: PNet on
        ``small``, RNet and ONet on ``fine`` (``factor`` times larger), where small faces keep
        the detail that the downscale took."""
        raise NotImplementedError

    def _stage_args(self) -> dict:
        """The pipeline's keyword arguments from the configuration: the smallest face PNet's
        pyramid looks for (:func:`search_size`) and the three networks' thresholds."""
        c = self.config
        return {"search_px": search_size(c.min_face_size),
                "thresholds": (c.threshold_pnet, c.threshold_rnet, c.threshold_onet)}

    def _to_faces(self, raw: np.ndarray, shape: tuple, factor: float) -> Faces:
        raw = raw[raw[:, ROW.score] >= self.config.min_score]
        boxes = raw[:, ROW.box] * factor
        h, w = shape[:2]
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        keep = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
        raw, boxes = raw[keep], boxes[keep]
        order = np.argsort(-raw[:, ROW.score], kind="stable")
        landmarks = np.stack([raw[:, ROW.landmarks_x], raw[:, ROW.landmarks_y]], axis=2) * factor
        return Faces(boxes[order], raw[order, ROW.score], landmarks[order])


class Detector(FaceDetector):
    """MTCNN run by the ``mtcnn`` package on TensorFlow.

    Build it once: building MTCNN loads three networks (and, with ``config.compiled``,
    traces each one for every input size, about 1 s). What it relies on inside the
    ``mtcnn`` package is in :mod:`facecore.mtcnn_stages`; an mtcnn release it was not
    checked against is a ``ModelError`` here.
    """

    def __init__(self, config: DetectorConfig | None = None, device: str = "CPU:0") -> None:
        load_tensorflow()
        self.config = config or DetectorConfig()
        self._mtcnn = build_stages("signature" if self.config.compiled else "eager", device=device)

    def trace_counts(self) -> list[int] | None:
        """How often each stage's graph was traced (PNet, RNet, ONet); ``None`` when eager."""
        return trace_counts(self._mtcnn)

    def _run(self, small: np.ndarray, fine: np.ndarray, factor: float) -> np.ndarray:
        return run_stages(self._mtcnn, small, fine, factor, **self._stage_args())


def build_detector(config: DetectorConfig | None = None, runtime: str = "tensorflow", *, device: str = "CPU:0",
                   threads: int | None = None, folder: Path | None = None) -> FaceDetector:
    """The detector for ``runtime`` (one of :data:`RUNTIMES`): :class:`Detector` on TensorFlow
    ``device``, or LiteRT's on ``threads`` CPU threads, its networks converted once into the
    cache ``folder`` (default: :func:`facecore.litert.cache.cache_folder`)."""
    if runtime == "tensorflow":
        return Detector(config, device=device)
    if runtime == "litert":
        from .litert.mtcnn import LiteDetector

        return LiteDetector(config, threads=threads, folder=folder)
    raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
