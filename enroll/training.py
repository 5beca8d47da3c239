"""``face-enroll train``: class folders -> features -> head -> calibrated bundle.

1. scan ``<data>/<name>/*`` and compute features (cached per image),
2. split each person's images 85/15 (stratified, ``train.seed``),
3. fit the head on the training part and measure it on the held-out part,
4. calibrate the open-set threshold from impostor scores: how high a head scores
   people it never saw (other enrolled people; photos of strangers if given; faces
   corrected as not being someone, ``<data>/<name>/not/``), and give each person with
   such counter-examples a threshold that none of them reaches,
5. measure the distance that separates one person's photos from two people's, for
   ``face-enroll review`` (:mod:`enroll.clusters`),
6. write the bundle atomically, with training curves and the score histogram.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from facecore.backbones import Backbone
from facecore.bundle import Bundle, read_meta, save_bundle
from facecore.config import Config
from facecore.errors import DataError
from facecore.models import Models
from facecore.features import TIGHT_CROP, FeatureCache, features_for_images, settings_key
from facecore.files import writing
from facecore.heads import Head
from facecore.images import list_images
from facecore.people import scan_counter_examples, scan_people
from facecore.weights import resolve_weights
from facecore.words import counted

from . import plots
from .calibration import Fitted, fit_and_calibrate
from .clusters import measured_distance

__all__ = ["train", "TrainResult", "fit_and_calibrate", "Fitted", "threshold_lines", "TooFewImages",
           "train_reporting"]

log = logging.getLogger(__name__)
_FEW_PEOPLE = 20
_MAX_DROP = 0.25  # validation accuracy this far below the current bundle's: a broken result
_NAMES_NOBODY = 0.999  # a threshold this high rejects practically every face


@dataclass
class TrainResult:
    path: Path
    labels: list
    counts: dict
    skipped: list
    threshold: float
    metrics: dict
    seconds: dict = field(default_factory=dict)
    genuine_blend: dict | None = None  # how the genuine part of the threshold was made (enroll.calibration)


class TooFewImages(DataError):
    """Someone has fewer usable photos than ``train.min_images``; ``skipped``: the ``(path, reason)``
    of every photo left out, for the command to name before its error line."""

    def __init__(self, message: str, skipped: list) -> None:
        super().__init__(message)
        self.skipped = skipped


_WHOLE = "--set train.no_face=whole"


def _crops(skipped: list) -> int:
    return sum(why == TIGHT_CROP for _, why in skipped)


def _write_skipped(stream: TextIO, skipped: list) -> None:
    """``skipped PATH: REASON`` on ``stream`` for each photo left out."""
    stream.write("".join(f"skipped {path}: {why}\n" for path, why in skipped))


def _too_few(config: Config, data: Path, counts: dict, skipped: list, people: dict) -> TooFewImages:
    """The error for people with fewer usable photos than ``train.min_images``: who, how many
    of their photos were skipped, and the way out (the crop setting, when those look like tight
    face crops)."""
    owner = {path: name for name, paths in people.items() for path in paths}
    left_out = Counter(owner.get(path) for path, _ in skipped)
    short = [name for name, n in counts.items() if n < config.train.min_images]
    named = ", ".join(f"{name} ({counts[name]}{f', {left_out[name]} skipped' if left_out[name] else ''})"
                      for name in short)
    way_out = f"add photos to {data}/<name>/ or remove the folder"
    crops = _crops([(path, why) for path, why in skipped if owner.get(path) in short])
    if crops:
        way_out = f"{crops} of their photos look like tight face crops: use them whole with {_WHOLE}; or {way_out}"
    return TooFewImages(f"too few usable images (need {config.train.min_images} each): {named}; {way_out}", skipped)


def _collect(config: Config, people: dict, data: Path, models: Models, cache_dir: Path, progress: bool):
    items = [(name, path) for name, paths in people.items() for path in paths]
    cache = FeatureCache(cache_dir, settings_key(config, models.backbone))
    found = features_for_images(items, models.detector, models.backbone, config, cache, progress)
    counts = {name: found.people.count(name) for name in people}
    if any(n < config.train.min_images for n in counts.values()):
        raise _too_few(config, data, counts, found.skipped, people)
    labels = sorted(people)
    y = np.array([labels.index(p) for p in found.people], np.int64)
    return np.stack(found.features), y, labels, counts, found.skipped


def _stranger_features(unknown: Path | None, config: Config, models: Models, progress: bool) -> np.ndarray | None:
    if unknown is None:
        return None
    items = [("_unknown", p) for p in list_images(unknown, recursive=True)]
    found = features_for_images(items, models.detector, models.backbone, config, None, progress)
    if not found.features:
        raise DataError(f"no usable face photos in {unknown} (--unknown)")
    return np.stack(found.features)


def _counter_features(config: Config, data: Path, labels: list, models: Models, cache_dir: Path,
                      progress: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """Features of the counter-examples (``<data>/<name>/not/``) and the class each is not; skipped."""
    counter = scan_counter_examples(data, labels)
    items = [(name, path) for name, paths in counter.items() for path in paths]
    if not items:
        return np.zeros((0, 1), np.float32), np.zeros(0, np.int64), []
    cache = FeatureCache(cache_dir, settings_key(config, models.backbone))
    found = features_for_images(items, models.detector, models.backbone, config, cache, progress)
    if not found.features:
        return np.zeros((0, 1), np.float32), np.zeros(0, np.int64), found.skipped
    return np.stack(found.features), np.array([labels.index(n) for n in found.people], np.int64), found.skipped


def _validation_metrics(head: Head, x: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    if len(x) == 0:
        return {"val_accuracy": None, "val_closed_set_accuracy": None, "n_val": 0}
    scores = head.scores(x)
    right = scores.argmax(axis=1) == y
    accepted = scores.max(axis=1) >= threshold
    return {
        "val_accuracy": float(np.mean(right & accepted)),
        "val_closed_set_accuracy": float(np.mean(right)),
        "n_val": int(len(x)),
    }


def _warn_weak_calibration(config: Config, n_people: int, fitted: Fitted) -> None:
    if not len(fitted.impostor) and not len(fitted.strangers):
        log.warning("no impostor scores (one person, or fewer than 3 for head %s): threshold %.3f",
                    config.head.kind, fitted.calibration["threshold"])
    elif n_people < _FEW_PEOPLE and not len(fitted.strangers):
        log.warning("only %d people enrolled: the threshold rests on few faces; for a reliable one, "
                    "give photos of other people with --unknown DIR", n_people)


def _weights_setting(weights: str) -> str:
    """``backbone.weights`` as recorded in a bundle: a file as an absolute path, so that a command
    run from another folder finds it."""
    if weights.lower() in ("imagenet", "none"):
        return weights.lower()
    return str(Path(weights).expanduser().resolve())


def _meta(config: Config, backbone: Backbone, fitted: Fitted, metrics: dict, counts: dict, labels: list,
          distance: dict | None) -> dict:
    """What ``meta.json`` records: how to rebuild and check the recogniser, and how it measured."""
    people = fitted.calibration["people"]
    return {
        "backbone": {"name": backbone.name, "input_size": backbone.input_size, "weights_id": backbone.weights_id,
                     "weights": _weights_setting(resolve_weights(config.backbone).weights)},
        "crop": asdict(config.crop),
        "head": {"kind": config.head.kind, **({"hidden": config.head.hidden} if config.head.kind == "mlp" else {})},
        "threshold": fitted.calibration["threshold"],
        "threshold_parts": fitted.calibration["parts"],
        **({"genuine_blend": fitted.calibration["genuine_blend"]} if fitted.calibration.get("genuine_blend") else {}),
        "target_far": config.recognition.target_far,
        "target_frr": config.recognition.target_frr,
        "person_thresholds": {labels[c]: p["bound"] for c, p in people.items()},
        "metrics": {**metrics, "person_thresholds": {labels[c]: {k: v for k, v in p.items() if k != "bound"}
                                                     for c, p in people.items()}},
        "people": counts,
        **({"cluster_distance": distance} if distance else {}),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _number(table: object, key: str) -> float | None:
    value = table.get(key) if isinstance(table, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _check_replacement(model: Path, metrics: dict, threshold: float, force: bool) -> None:
    """Refuse a degenerate threshold always, and a result clearly worse than the bundle at ``model``
    (validation accuracy ``_MAX_DROP`` lower, or a threshold that names nobody) unless ``force``."""
    if not math.isfinite(threshold) or not 0.0 < threshold <= 1.0:
        raise DataError(f"calibration gave a threshold of {threshold}: nothing was written; check the photos")
    previous = read_meta(model)
    old_acc, new_acc = _number(previous and previous.get("metrics"), "val_accuracy"), metrics["val_accuracy"]
    old_threshold = _number(previous, "threshold")
    why = ""
    if old_acc is not None and new_acc is not None and new_acc < old_acc - _MAX_DROP:
        why = f"validation accuracy {new_acc:.2f}, the current bundle's {old_acc:.2f}"
    elif old_threshold is not None and threshold >= _NAMES_NOBODY > old_threshold:
        why = f"its threshold {threshold:.4f} would name almost nobody"
    if why and not force:
        raise DataError(f"the new model looks broken ({why}): the current bundle at {model} is kept; "
                        f"check the photos, or replace it anyway with: face-enroll train --force")
    if why:
        log.warning("the new model looks broken (%s); replacing the current bundle as --force asks", why)


def train(
    config: Config,
    data: str | Path | None = None,
    model: str | Path | None = None,
    unknown: str | Path | None = None,
    models: Models | None = None,
    progress: bool = True,
    force: bool = False,
) -> TrainResult:
    """Train and write a bundle; returns what was done (raises ``DataError`` on unusable data, or
    when the result looks broken next to the bundle it would replace, unless ``force``)."""
    data, model = Path(data or config.train.data), Path(model or config.train.model)
    unknown = Path(unknown) if unknown else None
    if unknown is not None and not unknown.is_dir():
        raise DataError(f"--unknown folder not found: {unknown}")
    clock = {"start": time.monotonic()}
    people = scan_people(data)
    if config.head.kind != "centroid" and len(people) < 2:
        raise DataError(f"head {config.head.kind!r} needs at least 2 people; enroll another or use head.kind=centroid")
    models = models or Models.build(config)
    clock["models"] = time.monotonic()
    x, y, labels, counts, skipped = _collect(config, people, data, models, Path(config.train.cache_dir), progress)
    cx, cy, counter_skipped = _counter_features(config, data, labels, models, Path(config.train.cache_dir), progress)
    clock["features"] = time.monotonic()
    strangers = _stranger_features(unknown, config, models, progress)
    fitted = fit_and_calibrate(config, x, y, len(labels), strangers, progress, (cx, cy))
    threshold, va = fitted.calibration["threshold"], fitted.val
    clock["head"] = time.monotonic()
    metrics = _validation_metrics(fitted.head, x[va], y[va], threshold)
    metrics.update(n_images=int(len(y)), n_people=len(labels), n_impostor=int(len(fitted.impostor)),
                   n_strangers=int(len(fitted.strangers)))
    _warn_weak_calibration(config, len(labels), fitted)
    _check_replacement(model, metrics, threshold, force)
    meta = _meta(config, models.backbone, fitted, metrics, counts, labels, measured_distance(x, y))
    genuine = fitted.head.scores(x[va]).max(axis=1) if len(va) else np.zeros(0)
    impostor = np.concatenate([fitted.impostor, fitted.strangers, fitted.counter])
    extra = {"calibration.png": plots.score_histogram(genuine, impostor, threshold)}
    if fitted.history:
        extra["curves.png"] = plots.training_curves(fitted.history, config.head.kind)
    with writing(model):  # a full disk: one line naming the bundle (its temporary folder is removed)
        save_bundle(model, Bundle(fitted.final.arrays(), labels, meta), extra_files=extra)
    clock["end"] = time.monotonic()
    steps = ["start", "models", "features", "head", "end"]
    seconds = {k: round(clock[k] - clock[p], 3) for p, k in zip(steps, steps[1:])}
    seconds["total"] = round(clock["end"] - clock["start"], 3)
    return TrainResult(model, labels, counts, skipped + counter_skipped, threshold, meta["metrics"], seconds,
                       meta.get("genuine_blend"))


def train_reporting(stream: TextIO, config: Config, *args, **kwargs) -> TrainResult:
    """``train(config, *args, **kwargs)``, naming on ``stream`` each photo it left out and why,
    also when it stops for too few (before the error line)."""
    try:
        result = train(config, *args, **kwargs)
    except TooFewImages as exc:
        _write_skipped(stream, exc.skipped)  # the error names the crop setting, when it applies
        raise
    _write_skipped(stream, result.skipped)
    crops = _crops(result.skipped)
    if crops:
        stream.write(f"skipped photos that look like tight face crops: {crops}; to use them whole, {_WHOLE}\n")
    return result


def threshold_lines(result: TrainResult) -> list[str]:
    """What the per-person thresholds (people with counter-examples) cost, one line each."""
    lines = []
    blend = result.genuine_blend
    if blend and blend["weight"] < 1.0:
        lines.append(f"the threshold's genuine part rests on {counted(blend['scores'], 'photo')} (held out): "
                     f"{blend['own']:.3f} from them, blended {1 - blend['weight']:.0%} with the backbone's prior "
                     f"{blend['prior']:.3f} (LFW) to {blend['value']:.3f}; {blend['firm_at'] - blend['scores']} more "
                     f"photos ({blend['firm_at']} in all) would let the photos alone set it")
    for name, p in result.metrics.get("person_thresholds", {}).items():
        lines.append(f"{name}: {counted(p['counter_examples'], 'counter-example')}; the stricter threshold refuses "
                     f"{p['refused']} of {p['genuine']} of their photos (held out) that the common one accepts")
    return lines
