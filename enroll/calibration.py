"""Calibration: how high a head scores people it never saw, and the thresholds taken from it.

1. split each person's photos 85/15 (stratified, ``train.seed``) and fit the head;
2. impostor scores: a head's best score for photos of people it did not learn (other enrolled
   people; photos of strangers; counter-examples, faces corrected as not being someone, scored
   for that someone);
3. the common threshold from them, and for each person with counter-examples a bound that
   none of them reaches, with its cost in held-out photos of that person.

With few photos, the genuine part (the score that ``target_frr`` of a person's own photos,
held out, stay under) rests on a handful of scores and over-fits: two photos each gave 0.84,
while the same man's face in a clip scored 0.80. Until ``FIRM_PHOTOS`` genuine scores are
there, it is blended with the backbone's prior, the same quantile of LFW genuine pairs
(:data:`GENUINE_PRIOR`), weighted by how many of those scores are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facecore.config import Config
from facecore.heads import CentroidHead, Head, calibrate_threshold, make_head, tail_threshold

__all__ = ["Fitted", "fit_and_calibrate", "genuine_part", "GENUINE_PRIOR", "FIRM_PHOTOS"]

FIRM_PHOTOS = 20  # genuine scores (one per held-out photo) from which the photos alone set the genuine part
# cosine similarity that a share (the key) of genuine pairs stays under: 3,701 pairs of 156 LFW people
# (unknown-dev/lfw and lfw-dev), measured with python -m bench.review
GENUINE_PRIOR = {"facenet": {0.005: 0.386, 0.01: 0.44, 0.02: 0.502, 0.05: 0.563, 0.1: 0.626, 0.2: 0.692}}


def _split(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation indices; every person keeps at least one training image."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    n_val = int(np.ceil(share * len(y)))
    counts = np.bincount(y)
    if share <= 0 or counts.min() < 2:
        return idx, idx[:0]
    n_val = min(max(n_val, len(counts)), len(y) - len(counts))
    if n_val < len(counts):
        return idx, idx[:0]
    tr, va = train_test_split(idx, test_size=n_val, stratify=y, random_state=seed)
    return np.sort(tr), np.sort(va)


def _genuine(head: Head, final: Head, x: np.ndarray, y: np.ndarray, va: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores of enrolled photos for their own person, from a head that did not see them, and
    whose photos they are."""
    if isinstance(final, CentroidHead):  # leave one out, people with 2 photos or more, in class order
        counts = np.bincount(y, minlength=final.n_classes)
        whose = np.concatenate([np.full(n, c) for c, n in enumerate(counts) if n >= 2] or [np.zeros(0, np.int64)])
        return final.genuine_scores(x, y), whose.astype(np.int64)
    if not len(va):
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    return head.scores(x[va])[np.arange(len(va)), y[va]], y[va]


BOUND_MARGIN = 1e-5  # far above a score's rounding between batches, far below any real difference


def _person_bounds(threshold: float, counter: np.ndarray, counter_y: np.ndarray, genuine: np.ndarray,
                   genuine_y: np.ndarray) -> dict:
    """For each person with counter-examples: ``bound``, a score none of them reaches (they are named
    only at ``max(threshold, bound)``): their best score and ``BOUND_MARGIN``, as the same face's
    score moves by about 1e-7 with the batch it is computed in; and the held-out genuine photos of
    theirs that the stricter threshold refuses beyond the common one (the cost of the corrections)."""
    out = {}
    for c in np.unique(counter_y):
        bound = float(min(1.0, float(counter[counter_y == c].max()) + BOUND_MARGIN))
        own = genuine[genuine_y == c]
        refused = int(np.sum((own >= threshold) & (own < max(threshold, bound))))
        out[int(c)] = {"bound": bound, "counter_examples": int(np.sum(counter_y == c)), "genuine": int(len(own)),
                       "refused": refused}
    return out


def _threshold(final: Head, x, y, n_classes: int, pool: np.ndarray, genuine: np.ndarray, config: Config) -> dict:
    """The acceptance threshold and where it came from.

    1. ``impostor``: the lowest score that at most ``target_far`` of impostor scores reach;
    2. ``tail`` (centroid head): the same from a normal fit to all impostor pairs, which
       matters when few people are enrolled and the empirical quantile rests on few faces;
    3. ``genuine``: raised as far as ``target_frr`` of enrolled photos, held out, would be
       rejected: with few people, the impostors seen say little about strangers, and
       this keeps the threshold as strict as the enrolled photos allow.
    """
    rec = config.recognition
    parts = {"impostor": calibrate_threshold(pool, rec.target_far, rec.threshold)}
    if isinstance(final, CentroidHead):
        parts["tail"] = tail_threshold(final.impostor_pairs(x, y), n_classes, rec.target_far)
    blend = None
    if rec.target_frr > 0 and len(genuine) >= 2:
        blend = genuine_part(genuine, rec.target_frr, config.backbone.name)
        parts["genuine"] = blend["value"]
    threshold = max(v for v in parts.values() if v is not None)
    return {"threshold": float(min(1.0, threshold)), "parts": parts, "genuine_blend": blend}


def genuine_part(genuine: np.ndarray, frr: float, backbone: str) -> dict:
    """The genuine part of the threshold from ``genuine`` scores: ``{"value", "own", "prior", "weight",
    "scores", "firm_at"}``. ``own``: their ``frr`` quantile; ``prior``: the backbone's
    (:data:`GENUINE_PRIOR`, interpolated; ``None`` when it has none: ``own`` alone); ``weight``: of
    ``own``, the share of ``FIRM_PHOTOS`` the scores make."""
    own = float(np.quantile(genuine, frr))
    table = GENUINE_PRIOR.get(backbone)
    prior = float(np.interp(frr, list(table), list(table.values()))) if table else None
    weight = 1.0 if prior is None else min(1.0, len(genuine) / FIRM_PHOTOS)
    value = own if prior is None else weight * own + (1.0 - weight) * prior
    return {"value": float(value), "own": own, "prior": prior, "weight": float(weight), "scores": int(len(genuine)),
            "firm_at": FIRM_PHOTOS}


@dataclass
class Fitted:
    """``head``: fitted on the training split (metrics, curves); ``final``: what the bundle holds."""

    head: Head
    final: Head
    history: dict
    val: np.ndarray
    impostor: np.ndarray
    strangers: np.ndarray
    calibration: dict
    counter: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


def fit_and_calibrate(config: Config, x: np.ndarray, y: np.ndarray, n_classes: int,
                      strangers: np.ndarray | None = None, progress: bool = False,
                      counter: tuple[np.ndarray, np.ndarray] | None = None) -> Fitted:
    """Steps 2-4: split, fit the head, calibrate its threshold (optionally with strangers' features,
    and with ``counter``: features of faces that are not the person of the class given with each).

    A counter-example's score for the person it is not is an impostor score; the person also
    gets a bound that none of their counter-examples reaches (``calibration["people"]``).
    """
    tr, va = _split(y, config.train.validation_split, config.train.seed)
    head = make_head(config.head, config.train.seed)
    history = head.fit(x[tr], y[tr], n_classes, validation=(x[va], y[va]), progress=progress)
    final = head
    if config.head.kind == "centroid":
        final = make_head(config.head, config.train.seed)
        final.fit(x, y, n_classes)
    impostor = final.impostor_scores(x, y, n_classes)
    stranger_scores = final.scores(strangers).max(axis=1) if strangers is not None else np.zeros(0, np.float32)
    cx, cy = counter if counter is not None and len(counter[1]) else (None, np.zeros(0, np.int64))
    counter_scores = final.scores(cx)[np.arange(len(cy)), cy] if cx is not None else np.zeros(0, np.float32)
    pool = np.concatenate([impostor, stranger_scores, counter_scores])
    genuine, whose = _genuine(head, final, x, y, va)
    calibration = _threshold(final, x, y, n_classes, pool, genuine, config)
    calibration["people"] = _person_bounds(calibration["threshold"], counter_scores, cy, genuine, whose)
    return Fitted(head, final, history, va, impostor, stranger_scores, calibration, counter_scores)
