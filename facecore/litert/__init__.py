"""LiteRT, the runtime that runs converted (``.tflite``) models on a CPU without TensorFlow.

- :mod:`.cache`: converted models kept on disk, keyed by their weights, rebuilt when missing,
  stale or damaged, written whole.
- :mod:`.runner`: one converted model run by LiteRT's interpreter for any batch size.
- :mod:`.convert`: Keras models converted (the one place that needs TensorFlow).
- :mod:`.backbone`: the backbone converted and run behind ``facecore.backbones.Backbone``.
- :mod:`.mtcnn`: MTCNN's three networks converted and run inside a NumPy pipeline.

Which runtime runs is chosen in :mod:`facecore.runtime`.

Importing this package imports neither LiteRT nor TensorFlow.
"""

from .cache import cache_folder, converted, model_key
from .runner import Runner

__all__ = ["converted", "cache_folder", "model_key", "Runner"]
