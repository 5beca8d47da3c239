"""``face-enroll eval``: how often enrolled people get their name, and strangers get any.

A photo counts as right only when it gets the right name: a rejection as
``unknown`` is wrong for an enrolled person. ``closed_set_accuracy`` ignores the
threshold (the best-scoring name). ``person_thresholds`` says, for each person with
counter-examples (named only above a stricter threshold of their own), how many of
their photos here that threshold refuses which the common one would accept. Photos
where no face is found are counted
separately (``n_skipped``), not as right or wrong. A folder for someone the model
does not know is counted apart (``n_not_enrolled``; in ``per_person`` with
``"enrolled": false``, where ``accuracy`` is the share called ``unknown``), with a
warning: it is most often a misspelt name.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecore.bundle import load_bundle
from facecore.config import Config
from facecore.errors import DataError
from facecore.faces import UNKNOWN
from facecore.features import FeatureCache, features_for_images
from facecore.models import Models
from facecore.images import list_images
from facecore.people import scan_people
from facecore.recognizer import Recognizer

from . import plots

__all__ = ["evaluate", "EvalResult"]

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    report: dict
    confusion_png: bytes


def _decide(recognizer: Recognizer, features: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names, best-scoring names and their scores."""
    if not features:
        return np.zeros(0, object), np.zeros(0, object), np.zeros(0, np.float32)
    decision = recognizer.decide(recognizer.head.scores(np.stack(features)))
    return decision.names, decision.best, decision.confidences


def _person_thresholds(recognizer: Recognizer, truth: np.ndarray, best: np.ndarray, scores: np.ndarray) -> dict:
    """For each person named only above a stricter threshold of their own (they have counter-examples):
    that threshold, their photos here, and how many of those it refuses that the common one accepts."""
    out = {}
    for label, threshold in zip(recognizer.labels, recognizer.thresholds):
        if threshold <= recognizer.threshold:
            continue
        own = (truth == label) & (best == label)
        refused = own & (scores >= recognizer.threshold) & (scores < threshold)
        out[label] = {"threshold": float(threshold), "n": int(np.sum(truth == label)), "refused": int(refused.sum())}
    return out


def _per_person(truth: list, names: np.ndarray, best: np.ndarray, labels: list) -> dict:
    """Per folder: photos, accuracy (for someone not enrolled: the share called ``unknown``),
    closed-set accuracy (``None`` for someone not enrolled: no name is right)."""
    out = {}
    for person in sorted(set(truth)):
        mask = np.array([t == person for t in truth])
        enrolled = person in labels
        out[person] = {
            "n": int(mask.sum()),
            "enrolled": enrolled,
            "accuracy": float(np.mean(names[mask] == (person if enrolled else UNKNOWN))),
            "closed_set_accuracy": float(np.mean(best[mask] == person)) if enrolled else None,
        }
    return out


def _confusion(truth: list, names: np.ndarray, labels: list) -> bytes:
    rows = sorted(set(truth))
    cols = list(labels) + [UNKNOWN]
    matrix = np.zeros((len(rows), len(cols)), np.int64)
    for t, n in zip(truth, names):
        matrix[rows.index(t), cols.index(n)] += 1
    return plots.confusion_matrix(matrix, rows, cols)


def _match_labels(people: dict, labels: list, known: Path) -> dict:
    """``people`` with each folder named as the model's label it is (Unicode normal forms
    aside); folders the model does not know keep their names and are warned about."""
    label_of = {unicodedata.normalize("NFC", label): label for label in labels}
    matched = {label_of.get(unicodedata.normalize("NFC", name), name): paths for name, paths in people.items()}
    strangers = [known / name for name in people if unicodedata.normalize("NFC", name) not in label_of]
    if strangers:
        log.warning("not enrolled in the model, counted apart (per_person enrolled: false): %s",
                    ", ".join(map(str, strangers)))
    return matched


def _stranger_report(unknown: str | Path, recognizer: Recognizer, models: Models, config: Config,
                     cache: FeatureCache | None, progress: bool) -> dict:
    if not Path(unknown).is_dir():
        raise DataError(f"--unknown folder not found: {unknown}")
    strangers = features_for_images(
        [("_unknown", p) for p in list_images(unknown, recursive=True)], models.detector, models.backbone, config,
        cache, progress,
    )
    s_names, _, _ = _decide(recognizer, strangers.features)
    return {
        "n_unknown": len(s_names),
        "n_unknown_skipped": len(strangers.skipped),
        "unknown_false_accept_rate": float(np.mean(s_names != UNKNOWN)) if len(s_names) else None,
    }


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
    people = _match_labels(scan_people(known), recognizer.labels, Path(known))
    items = [(name, p) for name, paths in people.items() for p in paths]
    found = features_for_images(items, models.detector, models.backbone, config, cache, progress)
    enrolled = np.array([p in recognizer.labels for p in found.people], bool)
    if not enrolled.any():
        raise DataError(f"no usable photos of enrolled people in {known} (the model knows: "
                        f"{', '.join(recognizer.labels)})")
    truth = np.array(found.people, object)
    names, best, scores = _decide(recognizer, found.features)
    report = {
        "accuracy": float(np.mean(names[enrolled] == truth[enrolled])),
        "closed_set_accuracy": float(np.mean(best[enrolled] == truth[enrolled])),
        "unknown_false_accept_rate": None,
        "n": int(enrolled.sum()),
        "n_not_enrolled": int((~enrolled).sum()),
        "n_unknown": 0,
        "n_skipped": len(found.skipped),
        "threshold": recognizer.threshold,
        "per_person": _per_person(found.people, names, best, recognizer.labels),
        "person_thresholds": _person_thresholds(recognizer, truth, best, scores),
    }
    if unknown is not None:
        report.update(_stranger_report(unknown, recognizer, models, config, cache, progress))
    report["skipped"] = [f"{p}: {why}" for p, why in found.skipped]
    return EvalResult(report, _confusion(found.people, names, recognizer.labels))
