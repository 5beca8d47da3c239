"""Recognising any image, for ``POST /api/recognize``: the detector and recogniser face-live uses
(facecore's :class:`~facecore.models.Models` and :class:`~facecore.recognizer.Recognizer`),
built once, warmed up, then kept.

The model bundle is read again when it changed (a retrain while the app runs), so the API
answers with the newest model without a restart.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from facecore.bundle import bundle_exists, bundle_id, load_bundle
from facecore.config import Config
from facecore.errors import BundleError
from facecore.faces import UNKNOWN

from .desk import SharedModels

__all__ = ["ImageRecognizer"]


class ImageRecognizer:
    """Detect every face of an RGB image and name it (``unknown`` for strangers)."""

    def __init__(self, config: Config, models, recognizer=None, bundle: str | None = None) -> None:
        """``models``: built ``Models``, or the app's :class:`~web.desk.SharedModels`."""
        self.shared = SharedModels.of(config, models)
        self.config, self._recognizer, self._bundle = config, recognizer, bundle
        self.models = self.shared.get(backbone=bundle_exists(Path(config.train.model)))
        self._lock = threading.Lock()  # one image at a time

    @classmethod
    def build(cls, config: Config, models=None) -> "ImageRecognizer":
        """Build the detector and, when there is a bundle, the backbone (seconds; ``models``: built
        ``Models`` or the app's ``SharedModels``, used instead), the recogniser of the current bundle,
        and warm them up on a blank frame. On TensorFlow its detector imports it (quietly); on LiteRT
        nothing does."""
        made = cls(config, models)
        made.warm_up()
        return made

    def warm_up(self) -> None:
        """Pay every first-call cost now, as face-live's engine does: the detector's on a blank
        frame, and the backbone's graph compiled (run eagerly, a face costs several times more)."""
        with self._lock:
            self._reload()
            side = self.config.detector.max_side
            self.models.detector.detect(np.zeros((side * 3 // 4, side, 3), np.uint8))
            if self.models.backbone is not None:
                self.models.backbone.warm_up()

    def _reload(self) -> None:
        """(Re)build the recogniser when the bundle on disk is not the one in use."""
        from facecore.recognizer import Recognizer

        model = Path(self.config.train.model)
        if not bundle_exists(model):
            self._recognizer, self._bundle = None, None
            return
        current = bundle_id(model)
        if current == self._bundle and self._recognizer is not None:
            return
        bundle = load_bundle(model)
        if self.models.backbone is None:  # a bundle appeared: the backbone is built into the shared models
            self.models = self.shared.get(backbone=True)
        self._recognizer = Recognizer.from_bundle(bundle, self.config, backbone=self.models.backbone)
        self._bundle = current

    def recognize(self, image: np.ndarray) -> list[dict]:
        """``[{"box": [x1, y1, x2, y2], "name", "confidence", "score"}]`` for every face of the
        ``(h, w, 3)`` uint8 RGB ``image``, in the detector's order. ``confidence``: the recogniser's
        score for the name it chose (for ``unknown``: the best score, below the threshold); ``score``:
        the detector's."""
        with self._lock:
            try:
                self._reload()
            except BundleError:
                if self._recognizer is None:
                    raise
            faces = self.models.detector.detect(image)
            if len(faces) and self._recognizer is not None:
                faces = self._recognizer.recognize(image, faces)
        names = list(faces.names) if self._recognizer is not None else [UNKNOWN] * len(faces)
        confidences = list(faces.confidences) if self._recognizer is not None else [0.0] * len(faces)
        return [{"box": [round(float(v), 1) for v in box], "name": str(name), "confidence": round(float(conf), 4),
                 "score": round(float(score), 4)}
                for box, name, conf, score in zip(faces.boxes, names, confidences, faces.scores)]
