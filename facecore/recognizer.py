"""Recognition: crops -> one batched backbone call -> head scores -> name or "unknown"."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .backbones import Backbone, weights_identity
from .bundle import Bundle
from .config import Config, CropConfig
from .crops import extract_crops
from .errors import BundleError
from .faces import UNKNOWN, Faces
from .heads import Head, load_head, unit_features
from .runtime import runtime_backbone

__all__ = ["Recognizer", "Decision", "check_bundle"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """Per face: ``names`` (``unknown`` below threshold), ``confidences`` (best score),
    ``best`` (the best-scoring name, even when rejected); ``features``: the ``(n, d)`` float32
    unit feature vectors the scores came from (spatial maps averaged), when the faces went
    through the backbone here (kept by face-live with the faces it logs).

    One object for the faces of one model call: ``decision[mask | indices | slice]`` selects
    faces as :class:`~facecore.faces.Faces` does, and :meth:`split` cuts a batched decision
    back into the parts of each caller, in order."""

    names: np.ndarray
    confidences: np.ndarray
    best: np.ndarray
    features: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.names)
        lengths = {"confidences": len(self.confidences), "best": len(self.best)}
        if self.features is not None:
            lengths["features"] = len(self.features)
        wrong = {k: v for k, v in lengths.items() if v != n}
        if wrong:
            raise ValueError(f"Decision: {n} names but {wrong}")

    @classmethod
    def unknown(cls, n: int) -> "Decision":
        """``n`` faces named ``unknown`` with confidence 0 (nobody to recognise them)."""
        return cls(np.array([UNKNOWN] * n, dtype=object), np.zeros(n, np.float32), np.array([""] * n, dtype=object))

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index) -> "Decision":
        """The faces at ``index``: a boolean mask of length ``len(self)``, integer indices, or a slice."""
        if not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype == bool and index.shape != (len(self),):
                raise IndexError(f"Decision mask: expected shape ({len(self)},), got {index.shape}")
            index = np.atleast_1d(index)
        features = self.features[index] if self.features is not None else None
        return Decision(self.names[index], self.confidences[index], self.best[index], features)

    def split(self, sizes: list[int]) -> list["Decision"]:
        """The consecutive parts of ``sizes`` faces each (they must add up to ``len(self)``), in order."""
        if any(s < 0 for s in sizes) or sum(sizes) != len(self):
            raise ValueError(f"Decision.split: sizes {list(sizes)} do not add up to {len(self)} faces")
        ends = np.cumsum([0, *sizes])
        return [self[int(a):int(b)] for a, b in zip(ends[:-1], ends[1:])]


def check_bundle(bundle: Bundle, config: Config, backbone: Backbone | None = None) -> None:
    """Raise ``BundleError`` unless ``bundle`` was trained with the backbone and the weights that
    ``config`` asks for (``backbone``, when built, gives its weights' identity; else the file is hashed)."""
    want = bundle.meta.get("backbone")
    if not isinstance(want, dict):
        raise BundleError("model bundle is corrupt: meta.json names no backbone")
    if want.get("name") != config.backbone.name:
        raise BundleError(
            f"the model bundle was trained with backbone {want.get('name')!r}, but the config asks for "
            f"{config.backbone.name!r}: retrain (face-enroll train) or set backbone.name={want.get('name')}"
        )
    identity = backbone.weights_id if backbone else weights_identity(config.backbone)
    if want.get("weights_id") != identity:
        raise BundleError(
            f"the model bundle was trained with other {config.backbone.name} weights "
            f"({want.get('weights_id')}, config gives {identity}): retrain with face-enroll train"
        )


class Recognizer:
    """A backbone, a trained head, the names and the acceptance threshold.

    ``person_thresholds``: for people with counter-examples (faces corrected as "not them"),
    the score that none of those faces reaches; such a person is named only at or above
    ``max(threshold, their bound)``.
    """

    def __init__(self, backbone: Backbone, head: Head, labels: list[str], threshold: float, crop: CropConfig,
                 person_thresholds: dict[str, float] | None = None):
        self.backbone, self.head, self.labels = backbone, head, list(labels)
        self.threshold, self.crop = float(threshold), crop
        bounds = person_thresholds or {}
        self.thresholds = np.array([max(self.threshold, float(bounds.get(n, 0.0))) for n in self.labels], np.float32)

    @classmethod
    def from_bundle(cls, bundle: Bundle, config: Config, backbone: Backbone | None = None) -> "Recognizer":
        """Check that the bundle fits ``config`` (backbone and weights) and build the recogniser."""
        check_bundle(bundle, config, backbone)
        meta = bundle.meta
        try:
            head = load_head(meta["head"]["kind"], bundle.arrays, config.head)
            crop = CropConfig(**meta["crop"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise BundleError(f"model bundle is corrupt: cannot rebuild its head ({exc})") from None
        if head.n_classes != len(bundle.labels):
            raise BundleError(f"model bundle is corrupt: {head.n_classes} classes but {len(bundle.labels)} labels")
        rec = config.recognition
        threshold = meta.get("threshold", rec.threshold) if rec.use_calibrated else rec.threshold
        backbone = backbone or runtime_backbone(config)
        return cls(backbone, head, bundle.labels, threshold, crop, meta.get("person_thresholds"))

    def decide(self, scores: np.ndarray, features: np.ndarray | None = None) -> Decision:
        """``(n, k)`` scores -> names (``unknown`` when the best score is below the threshold of the
        person it names)."""
        n = len(scores)
        if n == 0 or scores.shape[1] == 0:
            return Decision.unknown(n)
        idx = scores.argmax(axis=1)
        conf = scores[np.arange(n), idx].astype(np.float32)
        best = np.array([self.labels[i] for i in idx], dtype=object)
        names = np.where(conf >= self.thresholds[idx], best, UNKNOWN).astype(object)
        return Decision(names, conf, best, features)

    def crops(self, frame: np.ndarray, faces: Faces) -> np.ndarray:
        return extract_crops(frame, faces, self.backbone.input_size, self.crop.margin, self.crop.align)

    def recognize_crops(self, crops: np.ndarray) -> Decision:
        """One batched backbone call for all ``(n, s, s, 3)`` RGB crops; none when ``n == 0``."""
        if len(crops) == 0:
            return self.decide(np.zeros((0, len(self.labels)), np.float32))
        features = self.backbone.features(crops, mirror=self.crop.mirror)
        return self.decide(self.head.scores(features), unit_features(features))

    def recognize(self, frame: np.ndarray, faces: Faces) -> Faces:
        """``faces`` with ``names`` and ``confidences`` filled in."""
        decision = self.recognize_crops(self.crops(frame, faces))
        return faces.with_(names=decision.names, confidences=decision.confidences)
