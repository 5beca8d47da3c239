"""Grouping faces of the same person: agglomerative clustering on cosine distance, stopped at
a distance measured from the backbone's genuine and impostor scores, and bound by what the
video says (:mod:`enroll.constraints`: a track's faces together, two faces of one frame apart).

Why this way: the number of people among stored strangers is unknown, so the clustering
is not told a number of clusters; it merges groups of faces while they are closer, on
average (average linkage), than a distance that separates pairs of photos of one person
(genuine pairs) from pairs of two people (impostor pairs). That distance is measured:

- on the enrolled photos, when they hold enough of both kinds of pairs (at least
  ``MIN_PEOPLE`` people and ``MIN_PAIRS`` genuine pairs); training stores it in the bundle;
- else, the backbone's default in :data:`DEFAULT_DISTANCE`, measured the same way on the
  LFW strangers of ``unknown-dev/lfw`` (77 people; ``python -m bench.review``), so that it
  works with one person enrolled, or nobody.

The rule (:func:`purity_distance`): purity first. A cluster of two people named as one
enrolls a stranger, while two clusters of one person only ask to be named twice (or merged,
``review --merge``), so the distance is the largest at which the pairs it joins are still at
least ``PAIR_PURITY`` genuine, counting genuine pairs against *hard* impostor pairs: for each
person, the pairs with the person whose photos the backbone finds most alike (the nearest
centroid), not random strangers, who are far easier to tell apart. Both kinds count as shares
of their own kind (equal weight). A merge of two groups joins many pairs at once, so the pairs'
target is above the clusters' (purity at least 0.97): at 0.97 of pairs, two look-alike LFW
people (8 pairs of the most alike) still ended in one cluster. The older balance, :func:`merge_distance`, minimised
``IMPOSTOR_COST`` times the impostor pairs joined plus the genuine pairs split; it merged
look-alikes (brothers, for one).
"""

from __future__ import annotations

import numpy as np

from .linkage import constrained_clusters, unit_vectors

__all__ = ["pair_scores", "hard_impostors", "merge_distance", "purity_distance", "measured_distance", "cluster",
           "purity", "DEFAULT_DISTANCE", "MIN_PEOPLE", "MIN_PAIRS", "IMPOSTOR_COST", "PAIR_PURITY"]

MIN_PEOPLE, MIN_PAIRS = 3, 20
_MAX_PHOTOS = 2000  # pairs are measured on at most this many photos (4 million pairs at most), drawn at random
IMPOSTOR_COST = 4.0
PAIR_PURITY = 0.99  # of pairs: 0.97 (distance 0.428) still merged two look-alike LFW people whole
# measured by `python -m bench.review --parts default` on unknown-dev/lfw and lfw-dev together (156 people,
# 3,701 genuine and 4,861 hard impostor pairs; see docs/benchmarks.md)
DEFAULT_DISTANCE = {"facenet": 0.367}


_unit = unit_vectors


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


def hard_impostors(features: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Cosine similarities of the pairs between each person and the person whose photos look most
    like theirs (nearest mean unit feature): ``(m,)``, each pair once."""
    u, people = _unit(features), np.asarray(people)
    names, who = np.unique(people, return_inverse=True)
    who = who.ravel()
    if len(names) < 2:
        return np.zeros(0)
    centres = _unit(np.stack([u[who == k].mean(axis=0) for k in range(len(names))]))
    alike = centres @ centres.T
    np.fill_diagonal(alike, -np.inf)
    pairs = {tuple(sorted((k, int(alike[k].argmax())))) for k in range(len(names))}
    return np.concatenate([(u[who == a] @ u[who == b].T).ravel() for a, b in sorted(pairs)])


def purity_distance(genuine: np.ndarray, impostor: np.ndarray, target: float = PAIR_PURITY) -> float:
    """The largest cosine distance at which, and at every stricter one, the pairs joined are at least
    ``target`` genuine: ``G / (G + I)``, ``G`` and ``I`` the shares of ``genuine`` and ``impostor``
    similarities at or above ``1 - distance``."""
    genuine, impostor = np.sort(np.asarray(genuine, np.float64)), np.sort(np.asarray(impostor, np.float64))
    if not len(genuine) or not len(impostor):
        raise ValueError("purity_distance needs genuine and impostor pairs")
    candidates = np.unique(np.concatenate([genuine, impostor]))[::-1]  # strictest first
    g = 1.0 - np.searchsorted(genuine, candidates, side="left") / len(genuine)
    i = 1.0 - np.searchsorted(impostor, candidates, side="left") / len(impostor)
    pure = np.minimum.accumulate(np.where(g + i > 0, g / np.maximum(g + i, 1e-12), 1.0)) >= target
    loosest = candidates[int(np.flatnonzero(pure)[-1])] if pure.any() else 1.0
    return float(np.clip(1.0 - loosest, 0.0, 2.0))


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
    genuine, _ = pair_scores(unit_features(features), people)
    if len(genuine) < MIN_PAIRS:
        return None
    hard = hard_impostors(unit_features(features), people)
    return {"distance": round(purity_distance(genuine, hard), 4), "genuine_pairs": int(len(genuine)),
            "impostor_pairs": int(len(hard))}


def cluster(features: np.ndarray, distance: float, units: np.ndarray | None = None,
            cannot: np.ndarray | None = None) -> np.ndarray:
    """``(n,)`` int cluster ids of ``(n, d)`` features: average-linkage agglomerative clustering on
    cosine distance, merging while groups are closer than ``distance``; ``units`` (must-link
    labels) and ``cannot`` (cannot-link pairs) as :func:`enroll.linkage.constrained_clusters`."""
    return constrained_clusters(features, distance, units, cannot)


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
