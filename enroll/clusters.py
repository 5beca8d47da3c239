"""Grouping faces of the same person: agglomerative clustering on cosine distance, stopped at
a distance measured from the backbone's genuine and impostor scores.

Why this way: the number of people among stored strangers is unknown, so the clustering
is not told a number of clusters; it merges groups of faces while they are closer, on
average (average linkage), than a distance that separates pairs of photos of one person
(genuine pairs) from pairs of two people (impostor pairs). That distance is measured:

- on the enrolled photos, when they hold enough of both kinds of pairs (at least
  ``MIN_PEOPLE`` people and ``MIN_PAIRS`` genuine pairs); training stores it in the bundle;
- else, the backbone's default in :data:`DEFAULT_DISTANCE`, measured the same way on the
  LFW strangers of ``unknown-dev/lfw`` (77 people; ``python -m bench.review``), so that it
  works with one person enrolled, or nobody.

The rule (:func:`merge_distance`): of the two error rates on pairs, an impostor pair merged
costs more than a genuine pair left apart (a cluster of two people named as one enrolls a
stranger, two clusters of one person only ask to be named twice), so the distance is the
one that minimises ``IMPOSTOR_COST`` times the impostor pairs it joins plus the genuine
pairs it splits, as shares of each kind.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pair_scores", "merge_distance", "measured_distance", "cluster", "purity", "DEFAULT_DISTANCE",
           "MIN_PEOPLE", "MIN_PAIRS", "IMPOSTOR_COST"]

MIN_PEOPLE, MIN_PAIRS = 3, 20
_MAX_PHOTOS = 2000  # pairs are measured on at most this many photos (4 million pairs at most), drawn at random
IMPOSTOR_COST = 4.0
# measured by `python -m bench.review --measure` on unknown-dev/lfw (see docs/benchmarks.md)
DEFAULT_DISTANCE = {"facenet": 0.566}


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def pair_scores(features: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of every pair of ``(n, d)`` ``features``: ``(genuine, impostor)``, the pairs
    of one person and of two (``people``: ``(n,)`` labels)."""
    u, people = _unit(features), np.asarray(people)
    sims = u @ u.T
    upper = np.triu(np.ones_like(sims, dtype=bool), k=1)
    same = people[:, None] == people[None, :]
    return sims[upper & same], sims[upper & ~same]


def merge_distance(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """The cosine distance (1 - similarity) that minimises ``IMPOSTOR_COST * FAR + FRR`` over pairs."""
    genuine, impostor = np.sort(np.asarray(genuine, np.float64)), np.sort(np.asarray(impostor, np.float64))
    if not len(genuine) or not len(impostor):
        raise ValueError("merge_distance needs genuine and impostor pairs")
    candidates = np.unique(np.concatenate([genuine, impostor, [1.0 + 1e-9]]))
    far = 1.0 - np.searchsorted(impostor, candidates, side="left") / len(impostor)  # impostor pairs >= s
    frr = np.searchsorted(genuine, candidates, side="left") / len(genuine)  # genuine pairs < s
    best = candidates[int(np.argmin(IMPOSTOR_COST * far + frr))]
    return float(np.clip(1.0 - best, 0.0, 2.0))


def measured_distance(features: np.ndarray, people: np.ndarray, seed: int = 0) -> dict | None:
    """``{"distance", "genuine_pairs", "impostor_pairs"}`` measured on enrolled photos (``features``
    of any shape, ``people`` their labels), or ``None`` when they are too few for it."""
    from facecore.heads import unit_features

    people = np.asarray(people)
    if len(features) > _MAX_PHOTOS:
        keep = np.sort(np.random.default_rng(seed).choice(len(features), _MAX_PHOTOS, replace=False))
        features, people = np.asarray(features)[keep], people[keep]
    if len(np.unique(people)) < MIN_PEOPLE:
        return None
    genuine, impostor = pair_scores(unit_features(features), people)
    if len(genuine) < MIN_PAIRS:
        return None
    return {"distance": round(merge_distance(genuine, impostor), 4), "genuine_pairs": int(len(genuine)),
            "impostor_pairs": int(len(impostor))}


def cluster(features: np.ndarray, distance: float) -> np.ndarray:
    """``(n,)`` int cluster ids of ``(n, d)`` features: average-linkage agglomerative clustering on
    cosine distance, merging while groups are closer than ``distance``."""
    from sklearn.cluster import AgglomerativeClustering

    if len(features) < 2:
        return np.zeros(len(features), np.int64)
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=max(float(distance), 1e-9))
    return model.fit_predict(_unit(features)).astype(np.int64)


def purity(clusters: np.ndarray, truth: np.ndarray) -> float:
    """The share of faces in the majority person of their cluster (1.0: no cluster mixes people)."""
    clusters, truth = np.asarray(clusters), np.asarray(truth)
    if not len(clusters):
        return 1.0
    majority = 0
    for c in np.unique(clusters):
        _, counts = np.unique(truth[clusters == c], return_counts=True)
        majority += int(counts.max())
    return majority / len(clusters)
