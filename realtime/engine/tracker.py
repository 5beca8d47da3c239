"""IoU tracker and name votes. Names live on tracks, never on boxes.

Pure logic: constructed ``Faces`` in, ``Faces`` with ``track_ids``, ``names`` and
``confidences`` out. No model, no clock, no I/O: frame indices are the only time.

1. ``update(detections, frame)``: match detections to tracks by IoU (greedy, best
   overlap first); unmatched detections start new tracks (name ``…``); tracks
   without a detection for more than ``max_missed`` frames end. On frames without
   detection (``None``) every track coasts on its last motion.
2. ``due(faces, frame)``: tracks detected on this frame that need a prediction: new
   ones, and the others every ``recognize_every`` frames.
3. ``record(track_ids, names, confidences, frame)``: add predictions; a track's name
   is the one with at least ``vote_min`` of its last ``vote_window`` votes. Until
   then it stays ``…``; once decided, it changes only when another name wins.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from facecore.config import TrackerConfig
from facecore.faces import PENDING, Faces
from facecore.recognizer import Decision

__all__ = ["Tracker", "vote", "iou_matrix", "match_boxes"]

_VELOCITY_SMOOTHING = 0.5  # weight of the newest motion in a track's velocity


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n, 4)`` and ``(m, 4)`` ``x1, y1, x2, y2`` boxes -> ``(n, m)`` float32 intersection over union."""
    a, b = np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def match_boxes(tracks: np.ndarray, detections: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching, highest IoU first; pairs below ``threshold`` never match."""
    iou = iou_matrix(tracks, detections)
    pairs: list[tuple[int, int]] = []
    used_t, used_d = set(), set()
    order = np.argsort(-iou, axis=None, kind="stable")
    for flat in order:
        t, d = np.unravel_index(flat, iou.shape)
        if iou[t, d] < threshold or iou[t, d] <= 0:
            break
        if t in used_t or d in used_d:
            continue
        pairs.append((int(t), int(d)))
        used_t.add(t)
        used_d.add(d)
    return pairs


def vote(predictions: Iterable[tuple[str, float]], window: int, minimum: int) -> tuple[str, float] | None:
    """The name with at least ``minimum`` of the last ``window`` predictions, and its mean confidence.

    ``None`` when no name has enough votes. A tie goes to the most recent name.
    """
    recent = list(predictions)[-window:]
    if not recent:
        return None
    counts = Counter(name for name, _ in recent)
    last_seen = {name: i for i, (name, _) in enumerate(recent)}
    name = max(counts, key=lambda n: (counts[n], last_seen[n]))
    if counts[name] < minimum:
        return None
    return name, float(np.mean([conf for n, conf in recent if n == name]))


@dataclass
class _Track:
    id: int
    box: np.ndarray  # (4,) float32, at frame ``seen``
    score: float
    landmarks: np.ndarray  # (5, 2) float32, at frame ``seen``
    seen: int  # frame of the last matching detection
    name: str
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))  # centre px per frame
    recognized: int | None = None  # frame of the last prediction
    votes: deque = field(default_factory=deque)
    confidence: float = 0.0

    def shift(self, frame: int, limit: int) -> np.ndarray:
        """``(2,)`` centre offset predicted for ``frame`` (constant velocity, at most ``limit`` frames)."""
        return self.velocity * float(min(max(frame - self.seen, 0), limit))

    def observe(self, box: np.ndarray, score: float, landmarks: np.ndarray, frame: int) -> None:
        gap = frame - self.seen
        if gap > 0:
            centre_old = (self.box[:2] + self.box[2:]) / 2.0
            centre_new = (box[:2] + box[2:]) / 2.0
            motion = (centre_new - centre_old) / gap
            self.velocity = (1 - _VELOCITY_SMOOTHING) * self.velocity + _VELOCITY_SMOOTHING * motion
        self.box, self.score, self.landmarks, self.seen = box.copy(), float(score), landmarks.copy(), frame


class Tracker:
    """Tracks faces across frames and decides each track's name by votes.

    ``initial_name`` is what a new track is called before any vote: ``…`` normally,
    ``unknown`` when there is nobody to recognise.
    """

    def __init__(self, config: TrackerConfig | None = None, initial_name: str = PENDING) -> None:
        self.config = config or TrackerConfig()
        self.initial_name = initial_name
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._tracks)

    def clear(self) -> None:
        """End every track (new tracks keep counting ids up, so no id is ever reused)."""
        self._tracks.clear()

    def forget_names(self, initial_name: str) -> None:
        """Drop every track's name and votes (the model changed): each is called ``initial_name``
        and is due for a prediction at its next detection; new tracks start so too."""
        self.initial_name = initial_name
        for track in self._tracks.values():
            track.name, track.confidence, track.recognized = initial_name, 0.0, None
            track.votes.clear()

    def update(self, detections: Faces | None, frame: int) -> Faces:
        """Match ``detections`` (``None`` on frames without detection) and return the live tracks."""
        if detections is not None:
            self._associate(detections, frame)
        limit = self.config.max_missed
        self._tracks = {i: t for i, t in self._tracks.items() if frame - t.seen <= limit}
        return self.view(frame)

    def _associate(self, detections: Faces, frame: int) -> None:
        ids = sorted(self._tracks)
        predicted = self._boxes(ids, frame)
        pairs = match_boxes(predicted, detections.boxes, self.config.iou_match)
        matched = set()
        for t, d in pairs:
            self._tracks[ids[t]].observe(detections.boxes[d], detections.scores[d], detections.landmarks[d], frame)
            matched.add(d)
        for d in range(len(detections)):
            if d not in matched:
                track = _Track(self._next_id, detections.boxes[d].copy(), float(detections.scores[d]),
                               detections.landmarks[d].copy(), frame, self.initial_name)
                self._tracks[track.id] = track
                self._next_id += 1

    def _boxes(self, ids: Sequence[int], frame: int) -> np.ndarray:
        out = np.zeros((len(ids), 4), np.float32)
        for row, i in enumerate(ids):
            track = self._tracks[i]
            out[row] = track.box + np.tile(track.shift(frame, self.config.max_missed), 2)
        return out

    def view(self, frame: int) -> Faces:
        """The live tracks at ``frame`` (coasting boxes moved by their velocity), by track id."""
        ids = sorted(self._tracks)
        tracks = [self._tracks[i] for i in ids]
        boxes = self._boxes(ids, frame)
        marks = [t.landmarks + t.shift(frame, self.config.max_missed) for t in tracks]
        return Faces(
            boxes,
            [t.score for t in tracks],
            np.array(marks, np.float32).reshape(-1, 5, 2),
            [t.name for t in tracks],
            [t.confidence for t in tracks],
            ids,
        )

    def missed(self, faces: Faces, frame: int) -> np.ndarray:
        """``(n,)`` int64: frames since each face's track last matched a detection."""
        return np.array([frame - self._tracks[int(i)].seen for i in faces.track_ids], np.int64)

    def due(self, faces: Faces, frame: int) -> np.ndarray:
        """``(n,)`` bool: faces detected on ``frame`` whose track needs a prediction now."""
        every = self.config.recognize_every
        out = np.zeros(len(faces), bool)
        for row, i in enumerate(faces.track_ids):
            track = self._tracks[int(i)]
            if track.seen == frame:
                out[row] = track.recognized is None or frame - track.recognized >= every
        return out

    def record(self, track_ids: Sequence[int], decision: Decision, frame: int) -> Faces:
        """Add one prediction per track (``decision``: one face per id of ``track_ids``, in order),
        re-vote its name, and return the live tracks."""
        c = self.config
        if len(decision) != len(track_ids):
            raise ValueError(f"Tracker.record: {len(track_ids)} tracks but a decision on {len(decision)} faces")
        for i, name, conf in zip(track_ids, decision.names, decision.confidences):
            track = self._tracks[int(i)]
            track.votes.append((str(name), float(conf)))
            while len(track.votes) > c.vote_window:
                track.votes.popleft()
            track.recognized = frame
            decided = vote(track.votes, c.vote_window, c.vote_min)
            if decided is not None:
                track.name, track.confidence = decided
        return self.view(frame)
