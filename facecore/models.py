"""The expensive networks, built once and shared: the MTCNN detector and the backbone.

Both apps use :class:`Models`: ``face-enroll`` to find faces and compute their
features, ``face-live`` to find faces and recognise them. The runtime that runs them is the
configuration's (``recognition.runtime``, see :mod:`facecore.runtime`): on TensorFlow, building
them costs seconds (its import, tracing MTCNN's graphs, loading the backbone's weights); on
LiteRT, a fraction of a second once they are converted (the first build converts them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .backbones import Backbone
from .config import Config
from .detector import FaceDetector
from .runtime import runtime_backbone, runtime_detector

__all__ = ["Models"]


@dataclass
class Models:
    """``detector``: finds faces; ``backbone``: turns crops into features (``None`` when nothing
    needs recognising, such as ``face-live`` before anyone is enrolled)."""

    detector: FaceDetector
    backbone: Backbone | None = None

    @classmethod
    def build(cls, config: Config, device: str = "CPU:0", backbone: bool = True,
              mark: Callable[[str], None] | None = None) -> "Models":
        """Build the detector (on TensorFlow ``device``, when TensorFlow runs it) and, with
        ``backbone``, ``config``'s backbone; ``mark(part)`` is called after each (start-up figures)."""
        mark = mark or (lambda part: None)
        detector = runtime_detector(config, device)
        mark("detector")
        built = runtime_backbone(config) if backbone else None
        if built is not None:
            mark("backbone")
        return cls(detector, built)
