"""MTCNN without TensorFlow: the ``mtcnn`` package's three networks converted for LiteRT, run
inside the NumPy pipeline of :mod:`facecore.mtcnn_numpy`.

- Conversion (:func:`convert`) builds each Keras network with the package's weights and hands
  it to ``tf.lite.TFLiteConverter``: PNet takes any batch and image size, RNet and ONet any
  batch. It imports TensorFlow, and runs once per weights file, mtcnn release, TensorFlow
  version and :data:`CONVERSION` (the key, :func:`network_key`); the files are kept by
  :func:`facecore.litert.cache.converted`.
- Detection (:class:`LiteDetector`) imports neither TensorFlow nor Keras, nor the ``mtcnn``
  package itself (its ``__init__`` imports TensorFlow): the weights are found and hashed as
  files, and the version read from the package's metadata.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from importlib import metadata
from pathlib import Path

import numpy as np

from ..config import DetectorConfig
from ..detector import FaceDetector
from ..errors import ModelError
from ..mtcnn_numpy import Networks, run_pipeline
from ..mtcnn_stages import check_version
from ..weights import file_sha256
from .cache import converted, model_key
from .convert import converter_version
from .runner import Runner

__all__ = ["NETWORKS", "CONVERSION", "LiteDetector", "convert", "converted_networks", "network_key",
           "weights_file"]

NETWORKS = {"pnet": (None, None), "rnet": (24, 24), "onet": (48, 48)}  # input height, width (None: any)
CONVERSION = "1"  # what :func:`convert` writes: change it when the conversion changes
PNET_SIZES = 24  # PNet interpreters made at most, one per pyramid level size (a frame size gives ~9)


def weights_file(name: str) -> Path:
    """The ``mtcnn`` package's weights file of network ``name`` (``pnet``, ``rnet``, ``onet``),
    found without importing the package."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the mtcnn package is not installed: pip install 'mtcnn>=1.0,<1.1'")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights" / f"{name}.lz4"
    if not path.is_file():
        raise ModelError(f"the mtcnn package has no weights file {path}: reinstall it")
    return path


def _mtcnn_version() -> str:
    try:
        return metadata.version("mtcnn")
    except metadata.PackageNotFoundError:
        return "absent"


def network_key(name: str) -> str:
    """The cache key of network ``name`` converted: its weights, the mtcnn release, the converter
    (TensorFlow's version) and :data:`CONVERSION`."""
    return model_key(file_sha256(weights_file(name)), f"mtcnn {_mtcnn_version()}", converter_version(),
                     f"facecam mtcnn conversion {CONVERSION}")


def convert(name: str) -> bytes:
    """Network ``name`` with the package's weights as a ``.tflite`` model (imports TensorFlow):
    float32 input ``(batch, height, width, 3)`` normalised to [-1, 1], any batch (and, for PNet,
    any height and width); its outputs as the Keras network's."""
    from ..app import load_tensorflow

    load_tensorflow()
    import tensorflow as tf
    from mtcnn.network.onet import ONet
    from mtcnn.network.pnet import PNet
    from mtcnn.network.rnet import RNet
    from mtcnn.utils.tensorflow import load_weights

    network = {"pnet": PNet, "rnet": RNet, "onet": ONet}[name]()
    network.build()
    network.set_weights(load_weights(str(weights_file(name))))
    holder = tf.Module()  # holds the weights as TensorFlow variables, so the converter freezes them
    holder.weights = [getattr(w, "value", w) for w in network.weights]
    height, width = NETWORKS[name]
    spec = tf.TensorSpec((None, height, width, 3), tf.float32)
    holder.run = tf.function(lambda x: network(x), input_signature=[spec])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([holder.run.get_concrete_function()], holder)
    return converter.convert()


def converted_networks(folder: Path | None = None) -> dict[str, Path]:
    """The three networks' ``.tflite`` files in the cache ``folder``, converted where missing,
    stale or damaged (``folder`` ``None``: :func:`facecore.litert.cache.cache_folder`)."""
    check_version()
    return {name: converted(f"mtcnn-{name}", network_key(name), lambda name=name: convert(name), folder)
            for name in NETWORKS}


class _BySize:
    """PNet run by one interpreter per input size: each frame of a source meets the same few
    pyramid levels, and one interpreter resized at every level costs 1.6x (``bench.detect_runtime``).
    At most :data:`PNET_SIZES` interpreters are made, which bounds their memory (~24 MB for the
    levels of one 640x480 source): past that, a new size takes over the least recently used
    interpreter, resized."""

    def __init__(self, path: Path, threads: int) -> None:
        self.path, self.threads = path, threads
        self._runners: OrderedDict[tuple, Runner] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            runner = self._runners.pop(images.shape, None)
            if runner is None and len(self._runners) >= PNET_SIZES:
                runner = self._runners.popitem(last=False)[1]
            self._runners[images.shape] = runner = runner or Runner(self.path, self.threads)
        return runner(images)

    def __len__(self) -> int:
        """How many interpreters there are."""
        return len(self._runners)


class LiteDetector(FaceDetector):
    """MTCNN on LiteRT: the package's networks, converted (:func:`converted_networks`), run on
    ``threads`` CPU threads inside :func:`facecore.mtcnn_numpy.run_pipeline`; the same
    configuration and results as :class:`facecore.detector.Detector`, without TensorFlow once
    the converted files are in the cache ``folder``."""

    def __init__(self, config: DetectorConfig | None = None, threads: int | None = None,
                 folder: Path | None = None) -> None:
        self.config = config or DetectorConfig()
        self.threads = threads or 1
        paths = converted_networks(folder)
        self._nets = Networks(pnet=_BySize(paths["pnet"], self.threads), rnet=Runner(paths["rnet"], self.threads),
                              onet=Runner(paths["onet"], self.threads))

    def _run(self, small: np.ndarray, fine: np.ndarray, factor: float) -> np.ndarray:
        return run_pipeline(self._nets, small, fine, factor, **self._stage_args())
