"""Frozen, pretrained feature extractors chosen by name, with their preprocessing inside.

Every backbone takes RGB crops ``(n, s, s, 3)`` with values 0..255 (uint8 or float)
and returns float32 features: ``vgg16`` gives ``(n, 7, 7, 512)`` feature maps,
``facenet`` gives ``(n, 128)`` L2-normalised embeddings.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import BackboneConfig
from .app import load_tensorflow
from .errors import ModelError
from .weights import file_sha256, keras_weights_file, resolve_weights, weights_advice

__all__ = ["Backbone", "build_backbone", "keras_backbone", "check_weights", "weights_identity", "pad_batches",
           "INPUT_SIZES"]

log = logging.getLogger(__name__)

INPUT_SIZES = {"vgg16": 224, "facenet": 160}
EAGER_CROPS = 64  # crops a process runs eagerly before it compiles the backbone (Backbone.run_batch)


def weights_identity(config: BackboneConfig) -> str:
    """A short string naming the weights: ``imagenet``, ``none`` or ``sha256:<16 hex>`` of a file
    (hashed once per process while the file keeps its size and time: a start checks the bundle
    against it, then builds the backbone with it). facenet without a file: the cached one."""
    config = resolve_weights(config)
    if config.weights.lower() in ("imagenet", "none"):
        return config.weights.lower()
    path = Path(config.weights).expanduser()
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise ModelError(f"backbone weights file not found: {path} (backbone.weights)")
    return _file_digest(str(path.resolve()), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """``sha256:<16 hex>`` of the file at ``path`` (``size`` and ``mtime_ns`` key the cache)."""
    return "sha256:" + file_sha256(path)[:16]


def pad_batches(n: int, sizes: list[int]) -> list[tuple[int, int, int]]:
    """Plan calls for ``n`` items with fixed batch ``sizes``: ``[(start, stop, padded_size)]``.

    Up to the largest size, one call padded to the smallest size that holds all
    items; beyond it, full calls of the largest size and one padded remainder.
    """
    sizes = sorted(set(sizes))
    plan, start = [], 0
    while start < n:
        left = n - start
        size = next((s for s in sizes if s >= left), sizes[-1])
        stop = start + min(left, size)
        plan.append((start, stop, size))
        start = stop
    return plan


def _batch_runner(model: Any, input_size: int) -> Callable[[np.ndarray], Any]:
    """A function running ``model`` on one float32 batch ``(n, s, s, 3)``, for any ``n``.

    On TensorFlow the model's graph is traced once, the first time it runs, for every
    batch size: ``predict_on_batch`` traces it again for each new batch size (about 2 s
    each for facenet on 2 cores), which a process that meets several sizes (training,
    the live loop's warm-up) paid several times over. Other Keras backends compile with
    ``predict_on_batch``.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return model.predict_on_batch
    import tensorflow as tf

    spec = tf.TensorSpec((None, input_size, input_size, 3), tf.float32)
    run = tf.function(lambda batch: model(batch, training=False), input_signature=[spec])
    return lambda batch: run(batch).numpy()


@dataclass
class Backbone:
    """A built backbone: ``features(crops)`` runs it in fixed-size batches."""

    name: str
    input_size: int
    weights_id: str
    model: Any
    batch_sizes: tuple = (1, 2, 4, 8, 16)
    _run: Callable[[np.ndarray], Any] | None = field(default=None, repr=False, compare=False)
    _eager_left: int = field(default=EAGER_CROPS, repr=False, compare=False)

    @property
    def compiled(self) -> bool:
        """Whether the model runs as a compiled graph yet (see ``run_batch``)."""
        return self._run is not None

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """The model's output for one float32 batch, as float32 numpy.

        The first ``EAGER_CROPS`` crops of a process run eagerly (op by op): a compiled
        graph costs a trace first (about 2.4 s for facenet here) and then runs about 2.5x
        faster, so it only pays off beyond some 60 crops. A small job (adding one person:
        ~20 crops with their mirror images) never pays for it; a large one pays it once
        it has run that many crops eagerly, at most about twice the best cost.
        ``warm_up`` compiles at once.
        """
        if self._run is None and len(batch) <= self._eager_left:
            self._eager_left -= len(batch)
            return np.asarray(self.model(batch, training=False), dtype=np.float32)
        if self._run is None:
            self._run = _batch_runner(self.model, self.input_size)
        return np.asarray(self._run(batch), dtype=np.float32)

    def features(self, crops: np.ndarray, mirror: bool = False) -> np.ndarray:
        """``(n, s, s, 3)`` RGB crops -> float32 features, batched and padded (no retracing).

        With ``mirror``, each crop's left-right mirror image goes through the same
        call and the two features are averaged (feature maps flipped back first).
        """
        crops = np.asarray(crops)
        if mirror and len(crops):
            both = self.features(np.concatenate([crops, crops[:, :, ::-1]]))
            direct, mirrored = both[: len(crops)], both[len(crops):]
            if mirrored.ndim == 4:
                mirrored = mirrored[:, :, ::-1]
            return (direct + mirrored) / 2.0
        if crops.ndim != 4 or crops.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(
                f"{self.name} expects crops of shape (n, {self.input_size}, {self.input_size}, 3), got {crops.shape}"
            )
        if len(crops) == 0:
            return np.zeros((0, *self.output_shape), np.float32)
        out = []
        for start, stop, size in self.batch_plan(len(crops)):
            batch = np.zeros((size, *crops.shape[1:]), np.float32)
            batch[: stop - start] = crops[start:stop]
            out.append(self.run_batch(batch)[: stop - start])
        return np.concatenate(out)

    def batch_plan(self, n: int) -> list[tuple[int, int, int]]:
        """The calls ``features`` makes for ``n`` crops: ``[(start, stop, padded_size)]``, padded to
        the fixed batch sizes (a graph traced for one size serves it again)."""
        return pad_batches(n, list(self.batch_sizes))

    @property
    def output_shape(self) -> tuple:
        return tuple(int(d) for d in self.model.output_shape[1:])

    def warm_up(self, every_size: bool = False) -> None:
        """Compile the graph now, so that no live frame pays for it, and run the smallest batch
        size through it (``every_size``: each fixed size, as benchmarks want). One graph serves
        every batch size: a size's first run costs little more than its next ones (0.1 to 0.4 s
        more for facenet here), while running them all at start cost about 1 s of start-up."""
        self._eager_left = 0
        for size in self.batch_sizes if every_size else self.batch_sizes[:1]:
            self.run_batch(np.zeros((size, self.input_size, self.input_size, 3), np.float32))


def _vgg16_base(weights: str):
    import keras

    size = INPUT_SIZES["vgg16"]
    if weights == "none":
        keras.utils.set_random_seed(1234)  # random weights, identical on every build (tests)
        return keras.applications.VGG16(include_top=False, weights=None, input_shape=(size, size, 3))
    if weights == "imagenet":
        try:
            return keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=(size, size, 3))
        except Exception as exc:  # keras raises plain Exception for a failed download
            log.debug("VGG16 ImageNet weights: %s", exc)
            raise ModelError(f"cannot get the VGG16 ImageNet weights (download failed: offline?): "
                             f"{weights_advice()}") from exc
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(size, size, 3))
    try:
        model.load_weights(str(Path(weights).expanduser()))
    except Exception as exc:  # h5py/keras raise many types for a bad file
        raise ModelError(f"cannot load VGG16 weights from {weights}: {exc}".splitlines()[0]) from exc
    return model


def _build_vgg16(config: BackboneConfig):
    import keras

    from .layers import VggPreprocess

    size = INPUT_SIZES["vgg16"]
    base = _vgg16_base(config.weights.lower() if config.weights.lower() in ("imagenet", "none") else config.weights)
    base.trainable = False
    inputs = keras.Input((size, size, 3), name="rgb")
    outputs = base(VggPreprocess(name="vgg_preprocess")(inputs), training=False)
    return keras.Model(inputs, outputs, name="vgg16_features")


def _build_facenet(config: BackboneConfig):
    from .facenet import build_facenet

    config = resolve_weights(config)
    if config.weights.lower() == "none":
        raise ModelError("backbone facenet needs its weights: backbone.weights = \"none\" is for vgg16 only")
    try:
        model = build_facenet(Path(config.weights).expanduser())
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ModelError(f"cannot load facenet weights: {exc}".splitlines()[0]) from exc
    model.trainable = False
    return model


def _load_runtime() -> None:
    """TensorFlow imported quietly, when it is Keras's backend (see ``load_tensorflow``)."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        load_tensorflow()


def check_weights(config: BackboneConfig) -> None:
    """Make sure ``config``'s weights can be had before work that needs them later (a person
    posing for a capture): a weights file must be there; VGG16's ImageNet weights are fetched now
    when Keras does not have them yet (``ModelError`` with both ways forward when offline)."""
    weights_identity(config)  # a file given, or facenet's cached one, is there
    if config.name == "vgg16" and config.weights.lower() == "imagenet" and not keras_weights_file().is_file():
        _load_runtime()
        _vgg16_base("imagenet")  # downloads into the Keras cache, or says how to do without


def keras_backbone(config: BackboneConfig):
    """The Keras model of the backbone ``config`` (imports TensorFlow; raises ``ModelError``)."""
    if config.name not in INPUT_SIZES:
        raise ModelError(f"unknown backbone {config.name!r} (known: {', '.join(INPUT_SIZES)})")
    _load_runtime()
    return (_build_vgg16 if config.name == "vgg16" else _build_facenet)(config)


def build_backbone(config: BackboneConfig, batch_sizes: tuple | list = (1, 2, 4, 8, 16),
                   runtime: str = "tensorflow", threads: int = 2) -> Backbone:
    """Build the backbone ``config.name`` with ``config.weights`` (raises ``ModelError``), run by
    ``runtime``: ``tensorflow``, or ``litert`` on ``threads`` CPU threads (converted once, cached:
    see ``facecore.litert``). Callers with a config choose the runtime with ``facecore.runtime``."""
    if config.name not in INPUT_SIZES:
        raise ModelError(f"unknown backbone {config.name!r} (known: {', '.join(INPUT_SIZES)})")
    identity = weights_identity(config)
    if runtime == "litert":
        from .litert.backbone import build_lite_backbone

        return build_lite_backbone(config, batch_sizes, threads)
    model = keras_backbone(config)
    log.debug("backbone %s ready (weights %s)", config.name, identity)
    return Backbone(config.name, INPUT_SIZES[config.name], identity, model, tuple(sorted(set(batch_sizes))))
