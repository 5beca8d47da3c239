"""Constrained average-linkage agglomerative clustering on cosine similarity.

Faces come in units (the faces that must be one person: a track's, or a single face) and
with cannot-link pairs (two faces that cannot be one person). Groups of units merge, the
closest first, while their average cosine similarity is at least ``1 - distance``; a merge
that would put a cannot-link pair in one group never happens.

Why it is fast enough for 10,000 faces: with unit vectors, the average similarity of two
groups is ``sum_a . sum_b / (n_a n_b)`` (their vector sums and sizes), so a merge costs one
``(k, d)`` product; and two groups can only ever merge when some pair of their faces is at
least as similar as the stopping similarity, so the faces split first into the connected
components of that graph (found in blocks of rows, never all pairs at once), and each
component is clustered on its own. Without constraints the result is that of ordinary
average linkage (scikit-learn's ``AgglomerativeClustering``, cosine, average).
"""

from __future__ import annotations

import numpy as np

__all__ = ["constrained_clusters", "unit_vectors", "BLOCK"]

BLOCK = 2048  # rows of the similarity matrix computed at once when looking for components


def unit_vectors(x: np.ndarray) -> np.ndarray:
    """``(n, d)`` rows scaled to length 1 (float64)."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _components(u: np.ndarray, sim: float, units: np.ndarray) -> np.ndarray:
    """``(n,)`` component of each face: faces joined by a pair at least ``sim`` alike or by a unit."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(u)
    rows, cols = [], []
    u32 = u.astype(np.float32)
    for start in range(0, n, BLOCK):
        r, c = np.nonzero(u32[start:start + BLOCK] @ u32.T >= sim)
        rows.append(r + start)
        cols.append(c)
    _, first, inverse = np.unique(units, return_index=True, return_inverse=True)
    rows.append(np.arange(n))
    cols.append(first[inverse])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _link(sums: np.ndarray, counts: np.ndarray, forbidden: np.ndarray, sim: float) -> np.ndarray:
    """``(k,)`` group of each of ``k`` units (``sums``: ``(k, d)`` sums of unit vectors, ``counts``:
    faces per unit, ``forbidden``: ``(k, k)`` bool, units that must stay apart)."""
    k = len(counts)
    counts = counts.astype(np.float64)
    m = ((sums @ sums.T) / np.outer(counts, counts)).astype(np.float32)
    np.fill_diagonal(m, -np.inf)
    m[forbidden] = -np.inf
    best = m.argmax(axis=1)
    value = m[np.arange(k), best]
    alive, owner = np.ones(k, bool), np.arange(k)
    while k > 1:
        i = int(value.argmax())
        if value[i] < sim:
            break
        j = int(best[i])
        sums[i] += sums[j]
        counts[i] += counts[j]
        forbidden[i] |= forbidden[j]
        forbidden[:, i] = forbidden[i]
        owner[owner == j] = i
        alive[j] = False
        row = (sums @ sums[i] / (counts * counts[i])).astype(np.float32)
        row[~alive | forbidden[i]] = -np.inf
        row[i] = -np.inf
        m[i], m[:, i] = row, row
        m[j], m[:, j] = -np.inf, -np.inf
        value[j] = -np.inf
        best[i] = int(row.argmax())
        value[i] = row[best[i]]
        stale = np.flatnonzero(alive & ((best == i) | (best == j)))
        stale = stale[stale != i]
        if len(stale):
            best[stale] = m[stale].argmax(axis=1)
            value[stale] = m[stale, best[stale]]
        better = alive & (row > value)
        best[better], value[better] = i, row[better]
    return owner


def constrained_clusters(features: np.ndarray, distance: float, units: np.ndarray | None = None,
                         cannot: np.ndarray | None = None) -> np.ndarray:
    """``(n,)`` int cluster ids (0, 1, ... in order of first face) of ``(n, d)`` ``features``.

    ``distance``: cosine distance; groups merge while their average distance is below it.
    ``units``: ``(n,)`` labels, faces of one label start as one group (must-link); ``cannot``:
    ``(m, 2)`` face indices that never end in one group (cannot-link; a pair inside one unit
    is ignored).
    """
    n = len(features)
    if n == 0:
        return np.zeros(0, np.int64)
    u = unit_vectors(features)
    units = np.arange(n) if units is None else np.unique(np.asarray(units), return_inverse=True)[1].ravel()
    cannot = np.zeros((0, 2), np.int64) if cannot is None or not len(cannot) else np.asarray(cannot, np.int64)
    sim = 1.0 - max(float(distance), 1e-9)
    component = _components(u, sim, units)
    group = np.empty(n, np.int64)
    for c in np.unique(component):
        faces = np.flatnonzero(component == c)
        local, unit_of = np.unique(units[faces], return_inverse=True)
        unit_of = unit_of.ravel()
        sums = np.zeros((len(local), u.shape[1]))
        np.add.at(sums, unit_of, u[faces])
        counts = np.bincount(unit_of, minlength=len(local))
        forbidden = np.zeros((len(local), len(local)), bool)
        inside = np.isin(cannot, faces).all(axis=1)
        if inside.any():
            pairs = np.searchsorted(local, units[cannot[inside]])
            forbidden[pairs[:, 0], pairs[:, 1]] = forbidden[pairs[:, 1], pairs[:, 0]] = True
            np.fill_diagonal(forbidden, False)
        group[faces] = n * c + _link(sums, counts, forbidden, sim)[unit_of]
    return _renumber(group)


def _renumber(group: np.ndarray) -> np.ndarray:
    """Ids 0, 1, ... in the order each group's first face comes."""
    _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.ravel()]
