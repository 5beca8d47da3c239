"""What the video itself says about who is who among kept faces, for :mod:`enroll.linkage`.

- **must-link**: the faces of one track are one person. A scene cut ends every track of its
  source (:mod:`realtime.engine.scenes`), and track ids are not reused within a run; a run started
  later numbers its tracks afresh, so a track's faces are linked only while they follow each
  other within ``TRACK_GAP_S``. A tracker can still swap two people who cross: a track whose
  own faces are further apart than ``TRACK_FAR`` (cosine distance) is split by average
  linkage at that distance, and only its parts are linked. Measured (facenet): the 9 tracks
  face-live keeps of biden.mp4 and the Hamilton clip hold faces at most 0.53 apart (a profile
  turning to the camera); 99.5% of LFW genuine pairs are closer than 0.61, and half of the
  nearest impostor pairs (each person with their most alike) are closer than 0.65.
- **cannot-link**: two faces seen in the same frame of the same source (their times within
  ``SAME_MOMENT_S``: frame numbers restart with each run) are two people, unless their boxes
  overlap heavily (intersection over union at least ``OVERLAP``): there the tracker judged.

A face whose track or frame is unknown (negative; or its box empty, for cannot-links) takes
part in no constraint.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import numpy as np

from facecore.facestore import StoredFace

from .linkage import constrained_clusters

__all__ = ["video_constraints", "TRACK_FAR", "TRACK_GAP_S", "SAME_MOMENT_S", "OVERLAP"]

TRACK_FAR = 0.62
TRACK_GAP_S = 10.0
SAME_MOMENT_S = 1.0
OVERLAP = 0.5


def _seconds(face: StoredFace) -> float:
    return datetime.fromisoformat(face.time).timestamp()


def _iou(a, b) -> float:
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    w, h = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - w * h
    return w * h / union if union > 0 else 0.0


def _track_runs(faces: list[StoredFace], times: np.ndarray) -> list[np.ndarray]:
    """Indices of the faces of each track, split where the track's faces are ``TRACK_GAP_S`` apart."""
    tracks = defaultdict(list)
    for i, f in enumerate(faces):
        if f.track >= 0:
            tracks[(f.source, f.track)].append(i)
    runs = []
    for members in tracks.values():
        members = np.array(sorted(members, key=lambda i: times[i]))
        breaks = np.flatnonzero(np.diff(times[members]) > TRACK_GAP_S) + 1
        runs += [r for r in np.split(members, breaks) if len(r) > 1]
    return runs


def _must(faces: list[StoredFace], u: np.ndarray, times: np.ndarray, far: float) -> np.ndarray:
    """``(n,)`` unit labels: the parts of each track that are one person, else the face alone."""
    units = np.arange(len(faces))
    for run in _track_runs(faces, times):
        parts = constrained_clusters(u[run], far) if np.min(u[run] @ u[run].T) < 1.0 - far else np.zeros(len(run))
        for p in np.unique(parts):
            units[run[parts == p]] = run[parts == p][0]
    return units


def _cannot(faces: list[StoredFace], times: np.ndarray) -> np.ndarray:
    """``(m, 2)`` pairs of faces seen at the same moment of one source, their boxes apart."""
    frames = defaultdict(list)
    for i, f in enumerate(faces):
        if f.frame >= 0 and any(f.box):
            frames[(f.source, f.frame)].append(i)
    pairs = []
    for members in frames.values():
        for a, i in enumerate(members):
            for j in members[a + 1:]:
                if abs(times[i] - times[j]) <= SAME_MOMENT_S and _iou(faces[i].box, faces[j].box) < OVERLAP:
                    pairs.append((i, j))
    return np.array(pairs, np.int64).reshape(-1, 2)


def video_constraints(faces: list[StoredFace], features: np.ndarray,
                      far: float = TRACK_FAR) -> tuple[np.ndarray, np.ndarray]:
    """``(units, cannot)`` for :func:`enroll.linkage.constrained_clusters` of ``faces`` (their unit
    ``features``: ``(n, d)``): ``(n,)`` must-link unit labels and ``(m, 2)`` cannot-link pairs."""
    times = np.array([_seconds(f) for f in faces], np.float64)
    return _must(faces, np.asarray(features, np.float64), times, far), _cannot(faces, times)
