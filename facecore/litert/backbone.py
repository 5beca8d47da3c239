"""The backbones run by LiteRT: the Keras backbone converted once (cached), then run without TensorFlow.

Same crops in, same features out as :class:`facecore.backbones.Backbone` (the preprocessing is
inside the converted model, as it is inside the Keras one): facenet's embeddings agree with
TensorFlow's to ~1e-6.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backbones import INPUT_SIZES, Backbone, keras_backbone, weights_identity
from ..config import BackboneConfig
from .cache import converted, model_key
from .convert import converter_version, keras_to_tflite
from .runner import Runner

__all__ = ["LiteBackbone", "build_lite_backbone", "backbone_file", "MODEL_FORMAT"]

log = logging.getLogger(__name__)

MODEL_FORMAT = "backbone 1"  # raise when the Keras model built for conversion changes (a new cache key)


@dataclass
class LiteBackbone(Backbone):
    """A :class:`Backbone` whose ``model`` is a :class:`~facecore.litert.runner.Runner`."""

    @property
    def compiled(self) -> bool:
        return True  # a converted model has nothing left to trace

    def batch_plan(self, n: int) -> list[tuple[int, int, int]]:
        """Calls of the crops' own count, up to the largest batch size, never padded: a converted
        model resizes its tensors in a millisecond or so, where a padded crop costs a whole crop."""
        top = max(self.batch_sizes)
        return [(start, min(n, start + top), min(n, start + top) - start) for start in range(0, n, top)]

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """The features of one ``(n, s, s, 3)`` batch, float32."""
        return np.asarray(self.model(batch)[0], np.float32)

    @property
    def output_shape(self) -> tuple:
        return self.model.output_shapes[0][1:]


def backbone_file(config: BackboneConfig, folder: Path | None = None) -> Path:
    """The converted backbone of ``config`` in the cache, converted now when it is missing, stale or
    damaged (which imports TensorFlow and builds the Keras model; one line says so)."""
    identity = weights_identity(config)
    key = model_key(identity, config.name, converter_version(), MODEL_FORMAT)
    return converted(config.name, key, lambda: keras_to_tflite(keras_backbone(config)), folder)


def build_lite_backbone(config: BackboneConfig, batch_sizes: tuple | list, threads: int,
                        folder: Path | None = None) -> LiteBackbone:
    """The backbone ``config`` run by LiteRT on ``threads`` threads (``ModelError`` as ``build_backbone``)."""
    path = backbone_file(config, folder)
    runner = Runner(path, threads)
    log.debug("backbone %s ready on LiteRT (%s, %d threads)", config.name, path, threads)
    return LiteBackbone(config.name, INPUT_SIZES[config.name], weights_identity(config), runner,
                        tuple(sorted(set(batch_sizes))))
