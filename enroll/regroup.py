"""Mending the last review's clusters by hand: ``review --merge A B`` and ``review --split ID``.

- ``--merge A B``: cluster B's faces join cluster A. Two faces seen in the same frame
  (:mod:`enroll.constraints`) are two people: such a merge is refused, naming the faces,
  unless forced.
- ``--split ID``: the cluster's faces grouped again, under the same constraints, at
  ``SPLIT_FACTOR`` times the distance the review used; the largest part keeps the number,
  the others get new numbers after the highest.
"""

from __future__ import annotations

import sys

import numpy as np

from facecore.config import Config
from facecore.errors import DataError, UsageError
from facecore.facestore import FaceStore
from facecore.words import counted

from .constraints import video_constraints
from .review import Cluster, forget_cluster, group_faces, load_cluster, merge_distance_for, save_clusters, \
    saved_clusters

__all__ = ["merge_clusters", "join_clusters", "split_cluster", "SPLIT_FACTOR"]

SPLIT_FACTOR = 0.75


def _features(faces) -> list:
    """The faces that have a feature vector (the review computed them; one kept since may not)."""
    return [f for f in faces if f.features is not None]


def merge_clusters(config: Config, store: FaceStore, a: int, b: int, force: bool = False) -> int:
    """Cluster ``b``'s faces join cluster ``a`` (:func:`join_clusters`), said on stdout; exit code 0."""
    merged = join_clusters(config, store, a, b, force)
    print(f"cluster {b} joined cluster {a}: {counted(len(merged.faces), 'face')}")
    return 0


def join_clusters(config: Config, store: FaceStore, a: int, b: int, force: bool = False) -> Cluster:
    """Cluster ``b``'s faces join cluster ``a`` of the last review; ``DataError`` when two of their faces
    were seen in one frame (two people), unless ``force``. Returns the cluster ``a`` they make."""
    if a == b:
        raise UsageError(f"--merge {a} {b}: give two different clusters")
    first, second = load_cluster(config, a), load_cluster(config, b)
    both = _features(first + second)
    if both and not force:
        _, cannot = video_constraints(both, np.stack([f.features for f in both]))
        in_a = {f.id for f in first}
        across = [(both[i].id, both[j].id) for i, j in cannot if (both[i].id in in_a) != (both[j].id in in_a)]
        if across:
            shown = ", ".join(f"{x} and {y}" for x, y in across[:3])
            raise DataError(f"clusters {a} and {b} were seen together in one frame ({shown}): two people, so they are "
                            f"not merged; --force merges them anyway")
    merged = sorted(first + second, key=lambda f: -f.score)
    forget_cluster(config, b)
    save_clusters(config, store, [Cluster(a, merged)])
    return Cluster(a, merged)


def split_cluster(config: Config, store: FaceStore, number: int) -> int:
    """Group cluster ``number`` again at ``SPLIT_FACTOR`` times the review's distance; exit code 0."""
    faces = _features(load_cluster(config, number))
    distance = merge_distance_for(config)[0] * SPLIT_FACTOR
    parts = group_faces(faces, distance)
    if len(parts) < 2:
        print(f"cluster {number} stays whole at cosine distance {distance:.3f}: its faces are all alike")
        return 0
    top = max(int(k) for k in saved_clusters(config))
    clusters = [Cluster(number, parts[0])] + [Cluster(top + k, part) for k, part in enumerate(parts[1:], 1)]
    save_clusters(config, store, clusters)
    listed = ", ".join(f"{c.id} ({counted(len(c.faces), 'face')})" for c in clusters)
    print(f"cluster {number} split at cosine distance {distance:.3f} into {listed}", file=sys.stdout)
    return 0
