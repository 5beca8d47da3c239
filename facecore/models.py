"""The expensive networks, built once and shared: the MTCNN detector and the backbone.

Both apps use :class:`Models`: ``face-enroll`` to find faces and compute their
features, ``face-live`` to find faces and recognise them. Building them costs seconds
(TensorFlow's import, tracing MTCNN's graphs, loading the backbone's weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .backbones import Backbone, build_backbone
from .config import Config
from .detector import Detector

__all__ = ["Models"]


@dataclass
class Models:
    """``detector``: finds faces; ``backbone``: turns crops into features (``None`` when nothing
    needs recognising, such as ``face-live`` before anyone is enrolled)."""

    detector: Detector
    backbone: Backbone | None = None

    @classmethod
    def build(cls, config: Config, device: str = "CPU:0", backbone: bool = True,
              mark: Callable[[str], None] | None = None) -> "Models":
        """Build the detector (on TensorFlow ``device``) and, with ``backbone``, ``config``'s
        backbone; ``mark(part)`` is called after each (start-up figures)."""
        mark = mark or (lambda part: None)
        detector = Detector(config.detector, device=device)
        mark("detector")
        built = build_backbone(config.backbone, config.recognition.batch_sizes) if backbone else None
        if built is not None:
            mark("backbone")
        return cls(detector, built)
