"""``face-enroll eval``: how often enrolled people get their name, and strangers get any.

A photo counts as right only when it gets the right name: a rejection as
``unknown`` is wrong for an enrolled person. ``closed_set_accuracy`` ignores the
threshold (the best-scoring name). Photos where no face is found are counted
separately (``n_skipped``), not as right or wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecore.bundle import load_bundle
from facecore.config import Config
from facecore.errors import DataError
from facecore.faces import UNKNOWN
from facecore.features import FeatureCache, features_for_images
from facecore.images import list_images
from facecore.people import scan_people
from facecore.recognizer import Recognizer

from . import plots
from .training import Models

__all__ = ["evaluate", "EvalResult"]


@dataclass
class EvalResult:
    report: dict
    confusion_png: bytes


def _decide(recognizer: Recognizer, features: list) -> tuple[np.ndarray, np.ndarray]:
    if not features:
        return np.zeros(0, object), np.zeros(0, object)
    decision = recognizer.decide(recognizer.head.scores(np.stack(features)))
    return decision.names, decision.best


def _per_person(truth: list, names: np.ndarray, best: np.ndarray) -> dict:
    out = {}
    for person in sorted(set(truth)):
        mask = np.array([t == person for t in truth])
        out[person] = {
            "n": int(mask.sum()),
            "accuracy": float(np.mean(names[mask] == person)),
            "closed_set_accuracy": float(np.mean(best[mask] == person)),
        }
    return out


def _confusion(truth: list, names: np.ndarray, labels: list) -> bytes:
    rows = sorted(set(truth))
    cols = list(labels) + [UNKNOWN]
    matrix = np.zeros((len(rows), len(cols)), np.int64)
    for t, n in zip(truth, names):
        matrix[rows.index(t), cols.index(n)] += 1
    return plots.confusion_matrix(matrix, rows, cols)


def evaluate(
    config: Config, known: str | Path, model: str | Path | None = None, unknown: str | Path | None = None,
    models: Models | None = None, progress: bool = True, cache: FeatureCache | None = None,
) -> EvalResult:
    """Evaluate the bundle at ``model`` on ``known/<name>/*`` and strangers under ``unknown``.

    ``cache`` (optional) keeps the test photos' features for repeated evaluations.
    """
    bundle = load_bundle(model or config.train.model)
    models = models or Models.build(config)
    recognizer = Recognizer.from_bundle(bundle, config, backbone=models.backbone)
    people = scan_people(known)
    items = [(name, p) for name, paths in people.items() for p in paths]
    found = features_for_images(items, models.detector, models.backbone, config, cache, progress)
    if not found.features:
        raise DataError(f"no usable face photos in {known}")
    truth = [p if p in recognizer.labels else UNKNOWN for p in found.people]
    names, best = _decide(recognizer, found.features)
    report = {
        "accuracy": float(np.mean(names == np.array(truth, object))),
        "closed_set_accuracy": float(np.mean(best == np.array(truth, object))),
        "unknown_false_accept_rate": None,
        "n": len(truth),
        "n_unknown": 0,
        "n_skipped": len(found.skipped),
        "threshold": recognizer.threshold,
        "per_person": _per_person(truth, names, best),
    }
    if unknown is not None:
        if not Path(unknown).is_dir():
            raise DataError(f"--unknown folder not found: {unknown}")
        strangers = features_for_images(
            [("_unknown", p) for p in list_images(unknown, recursive=True)], models.detector, models.backbone, config, cache, progress
        )
        s_names, _ = _decide(recognizer, strangers.features)
        report["n_unknown"] = len(s_names)
        report["n_unknown_skipped"] = len(strangers.skipped)
        report["unknown_false_accept_rate"] = float(np.mean(s_names != UNKNOWN)) if len(s_names) else None
    report["skipped"] = [f"{p}: {why}" for p, why in found.skipped]
    return EvalResult(report, _confusion(truth, names, recognizer.labels))
