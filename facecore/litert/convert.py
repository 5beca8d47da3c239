"""Keras models converted into LiteRT's ``.tflite`` form (this is where TensorFlow is needed).

Only conversion imports TensorFlow; running the result does not (see ``runner``).
Converted as they are, in float32: no quantisation, so the numbers stay TensorFlow's own
(to ~1e-6). A model's first axis stays dynamic (``-1``): any batch size runs.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

__all__ = ["keras_to_tflite", "converter_version"]


def converter_version() -> str:
    """The converter's version (TensorFlow's), read without importing it: part of a cache key."""
    try:
        return "tensorflow " + metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        return "tensorflow missing"


def keras_to_tflite(model: Any) -> bytes:
    """The ``.tflite`` bytes of the Keras ``model`` (its inputs' unknown sizes stay dynamic)."""
    from ..app import load_tensorflow

    load_tensorflow()
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model).convert()
