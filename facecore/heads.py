"""Heads: small classifiers on frozen backbone features, with an open-set score.

Every head maps features ``(n, ...)`` to scores ``(n, k)`` in [0, 1], one per enrolled
person; the best score is compared with a threshold calibrated from impostor
scores (``calibrate_threshold``). Weights travel as plain NumPy arrays.

- ``centroid``: cosine similarity to each person's mean unit feature.
- ``linear``: softmax regression on unit features (Adam).
- ``mlp``: Flatten -> Dense 1024 relu -> Dense 256 relu -> Dense k softmax, Adam,
  categorical cross-entropy (the original design).

``linear`` and ``mlp`` train with Keras; every head scores with NumPy alone, so a head loaded
from a bundle never imports Keras (nor TensorFlow).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .config import HeadConfig
from .progress import Progress

__all__ = ["Head", "CentroidHead", "SoftmaxHead", "make_head", "load_head", "unit_features", "calibrate_threshold",
           "tail_threshold", "dense_forward", "HEAD_KINDS"]

HEAD_KINDS = ("centroid", "linear", "mlp")
_LINEAR_SCALE = 16.0  # unit features times this: lets a softmax on cosines become confident


def unit_features(features: np.ndarray) -> np.ndarray:
    """``(n, ...)`` -> ``(n, d)`` float32 unit vectors; spatial maps ``(n, h, w, c)`` are averaged."""
    x = np.asarray(features, np.float32)
    if x.ndim > 2:
        x = x.reshape(len(x), -1, x.shape[-1]).mean(axis=1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class Head:
    """Base class; subclasses implement ``fit``, ``scores``, ``arrays``, ``from_arrays``."""

    kind = ""
    n_classes = 0

    def fit(self, x: np.ndarray, y: np.ndarray, n_classes: int, validation=None, progress=False) -> dict:
        raise NotImplementedError

    def scores(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def impostor_scores(self, x: np.ndarray, y: np.ndarray, n_classes: int, folds: int = 5) -> np.ndarray:
        """Best score each sample gets from a head that never saw its person.

        People are split into ``folds`` groups; a copy of this head is fitted on the
        others and scores the held-out group. Empty when fewer than 3 people.
        """
        if n_classes < 3:
            return np.zeros(0, np.float32)
        folds = min(folds, n_classes)
        group = np.arange(n_classes) % folds
        out = np.zeros(len(x), np.float32)
        for g in range(folds):
            held = group[y] == g
            keep_classes = np.flatnonzero(group != g)
            remap = np.full(n_classes, -1)
            remap[keep_classes] = np.arange(len(keep_classes))
            other = self.clone()
            other.fit(x[~held], remap[y[~held]], len(keep_classes))
            out[held] = other.scores(x[held]).max(axis=1)
        return out

    def clone(self) -> "Head":
        raise NotImplementedError


class CentroidHead(Head):
    kind = "centroid"

    def __init__(self, config: HeadConfig | None = None) -> None:
        self.config = config or HeadConfig(kind="centroid")
        self.centroids = np.zeros((0, 0), np.float32)

    def clone(self) -> "CentroidHead":
        return CentroidHead(self.config)

    def fit(self, x, y, n_classes, validation=None, progress=False) -> dict:
        u = unit_features(x)
        self.centroids = unit_features(np.stack([u[y == c].mean(axis=0) for c in range(n_classes)]))
        self.n_classes = n_classes
        return {}

    def scores(self, x) -> np.ndarray:
        return np.clip(unit_features(x) @ self.centroids.T, 0.0, 1.0)

    def impostor_scores(self, x, y, n_classes, folds=5) -> np.ndarray:
        """Best cosine to any other person's centroid (exact; no refitting needed)."""
        if n_classes < 2:
            return np.zeros(0, np.float32)
        s = self.scores(x).copy()
        s[np.arange(len(y)), y] = -1.0
        return s.max(axis=1).astype(np.float32)

    def genuine_scores(self, x, y) -> np.ndarray:
        """Each sample's score against its own person's centroid made without it
        (leave one out); people with a single sample give none."""
        u = unit_features(x)
        out = []
        for c in range(self.n_classes):
            own = u[y == c]
            if len(own) < 2:
                continue
            others = (own.sum(axis=0, keepdims=True) - own) / (len(own) - 1)
            out.append(np.sum(own * unit_features(others), axis=1))
        return np.clip(np.concatenate(out), 0.0, 1.0) if out else np.zeros(0, np.float32)

    def impostor_pairs(self, x, y) -> np.ndarray:
        """Every score of a sample against another person's centroid, flattened."""
        s = self.scores(x)
        mask = np.ones_like(s, dtype=bool)
        mask[np.arange(len(y)), y] = False
        return s[mask]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"centroids": self.centroids}

    @classmethod
    def from_arrays(cls, arrays: dict, config: HeadConfig) -> "CentroidHead":
        head = cls(config)
        head.centroids = np.asarray(arrays["centroids"], np.float32)
        head.n_classes = len(head.centroids)
        return head


def dense_forward(x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """The ``linear``/``mlp`` heads' layers in NumPy: ``x`` ``(n, ...)`` flattened, then each
    ``(kernel, bias)`` pair of ``weights`` as a Dense layer, relu between them and a softmax
    after the last. Returns float32 ``(n, k)`` probabilities (Keras's own to ~1e-6)."""
    h = np.asarray(x, np.float32).reshape(len(x), -1)
    pairs = list(zip(weights[0::2], weights[1::2]))
    for kernel, bias in pairs[:-1]:
        h = np.maximum(h @ kernel + bias, 0.0)
    logits = h @ pairs[-1][0] + pairs[-1][1]
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class SoftmaxHead(Head):
    """``linear`` or ``mlp``: a classifier trained with Keras (Adam, cross-entropy), scored with
    NumPy from its weights (:func:`dense_forward`)."""

    def __init__(self, config: HeadConfig, seed: int = 42) -> None:
        self.kind = config.kind
        self.config = config
        self.seed = seed
        self.model = None  # the Keras model while fitting; None once loaded from arrays
        self.weights: list[np.ndarray] = []  # kernel, bias, kernel, bias, ... (Keras's order)
        self.input_shape: tuple = ()

    def clone(self) -> "SoftmaxHead":
        return SoftmaxHead(self.config, self.seed)

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "linear":
            return unit_features(x) * _LINEAR_SCALE
        return np.asarray(x, np.float32)

    def _build(self, input_shape: tuple, n_classes: int):
        import keras

        keras.utils.set_random_seed(self.seed)
        layers = [keras.Input(input_shape)]
        if self.kind == "mlp":
            layers.append(keras.layers.Flatten())
            layers += [keras.layers.Dense(width, activation="relu") for width in self.config.hidden]
        layers.append(keras.layers.Dense(n_classes, activation="softmax"))
        model = keras.Sequential(layers, name=f"{self.kind}_head")
        model.compile(
            optimizer=keras.optimizers.Adam(self.config.learning_rate),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        self.model, self.input_shape, self.n_classes = model, tuple(input_shape), n_classes
        return model

    def fit(self, x, y, n_classes, validation=None, progress=False) -> dict:
        import keras

        px = self._prepare(x)
        model = self._build(px.shape[1:], n_classes)
        val = None
        if validation is not None and len(validation[0]):
            val = (self._prepare(validation[0]), keras.utils.to_categorical(validation[1], n_classes))
        with Progress(f"training {self.kind} head (epochs)", self.config.epochs, enabled=progress) as bar:
            history = model.fit(
                px,
                keras.utils.to_categorical(y, n_classes),
                batch_size=self.config.batch_size,
                epochs=self.config.epochs,
                validation_data=val,
                shuffle=True,
                verbose=0,
                callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: bar.update())],
            )
        self.weights = [np.asarray(w, np.float32) for w in model.get_weights()]
        return {k: [float(v) for v in vals] for k, vals in history.history.items()}

    def scores(self, x) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, self.n_classes), np.float32)
        return dense_forward(self._prepare(x), self.weights)

    def arrays(self) -> dict[str, np.ndarray]:
        weights = {f"w{i}": w for i, w in enumerate(self.weights)}
        return {"input_shape": np.asarray(self.input_shape, np.int64), **weights}

    @classmethod
    def from_arrays(cls, arrays: dict, config: HeadConfig) -> "SoftmaxHead":
        head = cls(config)
        head.weights = [np.asarray(arrays[f"w{i}"], np.float32) for i in range(sum(k.startswith("w") for k in arrays))]
        head.input_shape = tuple(int(d) for d in arrays["input_shape"])
        head.n_classes = int(head.weights[-1].shape[0])
        return head


def make_head(config: HeadConfig, seed: int = 42) -> Head:
    if config.kind == "centroid":
        return CentroidHead(config)
    if config.kind in ("linear", "mlp"):
        return SoftmaxHead(config, seed)
    raise ValueError(f"unknown head kind {config.kind!r} (known: {', '.join(HEAD_KINDS)})")


def load_head(kind: str, arrays: dict, config: HeadConfig) -> Head:
    """Rebuild a head of ``kind`` from its arrays (``config`` supplies hyper-parameters)."""
    config = HeadConfig(**{**config.__dict__, "kind": kind})
    loader: Callable = CentroidHead.from_arrays if kind == "centroid" else SoftmaxHead.from_arrays
    return loader(arrays, config)


def tail_threshold(pair_scores: np.ndarray, n_classes: int, target_far: float) -> float | None:
    """Threshold from a normal fit to impostor pair scores, for a stranger facing ``n_classes``.

    With few people enrolled, the empirical quantile of impostor scores rests on
    a handful of faces; this extrapolates their tail instead: a stranger is
    accepted when any of ``n_classes`` scores passes, so each may pass with
    probability ``1 - (1 - target_far) ** (1 / n_classes)``. None without data.
    """
    from statistics import NormalDist

    pair_scores = np.asarray(pair_scores, np.float64)
    if pair_scores.size < 2 or n_classes < 1 or not 0 < target_far < 1:
        return None
    per_pair = 1.0 - (1.0 - target_far) ** (1.0 / n_classes)
    z = NormalDist().inv_cdf(1.0 - per_pair)
    return float(min(1.0, pair_scores.mean() + z * pair_scores.std()))


def calibrate_threshold(impostor: np.ndarray, target_far: float, fallback: float) -> float:
    """The lowest threshold that at most ``target_far`` of ``impostor`` scores reach.

    A score is accepted when ``score >= threshold``. With no impostor scores,
    ``fallback`` is returned.
    """
    impostor = np.sort(np.asarray(impostor, np.float64))
    if impostor.size == 0:
        return float(fallback)
    allowed = int(np.floor(target_far * impostor.size))  # how many may pass
    index = impostor.size - allowed - 1
    if index < 0:
        return float(impostor[0])
    return float(min(1.0, np.nextafter(impostor[index], np.inf)))
