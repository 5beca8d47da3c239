"""One source's part of a recognition step: detect -> track -> crops due; then the votes.

A step of the engine (:mod:`realtime.engine.step`) calls :meth:`SourceStage.begin` on each
source that has a new frame, sends the crops due from all of them through ONE batched
model call, and gives each source its share of the decisions with
:meth:`SourceStage.finish` (a :class:`~facecore.recognizer.Decision`, split from the batched
one), which returns an immutable :class:`StepResult`: the tracked faces with their names and how
long each stage took, for the display and the CSV log.
Without a recogniser (nobody enrolled) every track is ``unknown`` and nothing is cropped.

A scene cut (:mod:`realtime.engine.scenes`, ``camera.cut_threshold``) ends every track of the
source at once: the first frame the stage processes after a cut starts afresh, detected at
once, and no name or vote of the shot before carries over. The display reports each frame it
shows with :meth:`SourceStage.watch`, so that a cut is found even on frames the stage skips.

The same stage runs inside a camera actor of the Ray engine; only who makes the model
call changes.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from facecore.camera import Frame
from facecore.config import Config
from facecore.detector import Detector
from facecore.faces import PENDING, UNKNOWN, Faces
from facecore.recognizer import Decision

from .scenes import CutWatch
from .tracker import Tracker

__all__ = ["SourceStage", "StepResult", "StageTimes", "Pending", "Cropper"]

Cropper = Callable[[np.ndarray, Faces], np.ndarray]  # (RGB frame, faces) -> (n, s, s, 3) crops


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds spent in each stage of one step; ``None`` for a stage that did not run."""

    detect_ms: float | None = None
    crop_ms: float | None = None
    infer_ms: float | None = None


@dataclass(frozen=True)
class StepResult:
    """What one step knows about one frame of one source.

    ``faces``: the live tracks (boxes in that frame's pixels, ``names`` decided by votes,
    ``…`` until then), with the ``data`` columns ``carried`` (bool: the track missed its last
    detection and its box is only carried along), ``fresh`` (bool: detected on this very
    frame), ``source``, and, on a step with a model call, ``features`` (``(n, d)`` float32:
    the unit feature vectors of the faces recognised in this step, NaN in the other rows);
    ``recognized``: how many of them went through the model.
    """

    source: str
    frame_index: int
    time_s: float
    faces: Faces
    detected: bool = False
    recognized: int = 0
    times: StageTimes = field(default_factory=StageTimes)

    @classmethod
    def empty(cls, source: str = "", frame_index: int = -1, time_s: float = 0.0) -> "StepResult":
        return cls(source, frame_index, time_s, Faces.empty())

    @property
    def carried(self) -> np.ndarray:
        """``(n,)`` bool: faces whose box is only carried along (missed by the detector's last look)."""
        return self.faces.column("carried", False).astype(bool)

    @property
    def fresh(self) -> np.ndarray:
        return self.faces.column("fresh", False).astype(bool)

    @property
    def confirmed(self) -> np.ndarray:
        """``(n,)`` bool: faces whose track has a decided name that is not ``unknown``."""
        return np.array([n not in (PENDING, UNKNOWN, "") for n in self.faces.names], bool)


@dataclass
class Pending:
    """A step of one source half done: its live tracks, which are due, and their crops."""

    frame: Frame
    faces: Faces
    due: np.ndarray
    crops: np.ndarray | None
    detected: bool
    detect_ms: float | None
    crop_ms: float | None


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class SourceStage:
    """Detection every ``detector.every_n_frames`` frames (of the source's numbering),
    tracking on every frame, recognition of the tracks that are due.

    ``stills``: the frames are unrelated photos (a folder): every one is detected and
    recognised on its own, and named by its single prediction; no track crosses photos.
    ``cuts``: the source's scene cuts (:class:`~realtime.engine.scenes.CutWatch`).
    """

    def __init__(self, name: str, config: Config, detector: Detector, recognizing: bool,
                 stills: bool = False) -> None:
        if stills:
            config = config.replace(detector={"every_n_frames": 1}, tracker={"vote_window": 1, "vote_min": 1})
        self.name, self.config, self.detector, self.stills = name, config, detector, stills
        self.tracker = Tracker(config.tracker, PENDING if recognizing else UNKNOWN)
        self.cuts = CutWatch(0.0 if stills else config.camera.cut_threshold, name)
        self._next_detect = 0
        self._last_index = -1  # the last frame processed
        self._born: dict[int, float] = {}  # live track -> source time it appeared
        self._named: set[int] = set()
        self.name_latencies: deque[float] = deque(maxlen=1000)  # seconds from a track's birth to its name

    def _time_names(self, faces: Faces, now: float) -> None:
        """Note how long each track took from its first appearance to its first name."""
        for track, name in zip(faces.track_ids, faces.names):
            track = int(track)
            if name not in (PENDING, UNKNOWN, "") and track not in self._named:
                self._named.add(track)
                self.name_latencies.append(now - self._born.get(track, now))

    def forget_names(self, recognizing: bool) -> None:
        """The model changed: every track is named afresh (``unknown`` when nobody is recognised)."""
        self.tracker.forget_names(PENDING if recognizing else UNKNOWN)

    def watch(self, frame: Frame) -> None:
        """Measure ``frame`` (shown, in source order; any thread) for a scene cut."""
        self.cuts.see(frame)

    def _follow_cuts(self, frame: Frame) -> None:
        """A shot began since the last frame processed: every track ends, and ``frame`` is detected."""
        self.cuts.see(frame)  # nothing new when the display has seen it already
        if self.cuts.between(self._last_index, frame.index):
            self.tracker.clear()
            self._next_detect = frame.index
        self._last_index = frame.index

    def begin(self, frame: Frame, crop: Cropper | None) -> Pending:
        """Detect (when due) and track on ``frame`` (RGB uint8, frames in source order), and cut
        the crops of the tracks due for recognition with ``crop`` (``None``: nobody to recognise)."""
        index, detected, detect_ms = frame.index, None, None
        if self.stills:
            self.tracker.clear()
        self._follow_cuts(frame)
        if index >= self._next_detect:
            start = time.perf_counter()
            detected = self.detector.detect(frame.image)
            detect_ms = _ms(start)
            self._next_detect = index + self.config.detector.every_n_frames
        faces = self.tracker.update(detected, index)
        self._born = {int(i): self._born.get(int(i), frame.time_s) for i in faces.track_ids}
        self._named &= set(self._born)
        due = self.tracker.due(faces, index) if crop is not None else np.zeros(len(faces), bool)
        crops, crop_ms = None, None
        if due.any():
            start = time.perf_counter()
            crops = crop(frame.image, faces[due])
            crop_ms = _ms(start)
        return Pending(frame, faces, due, crops, detected is not None, detect_ms, crop_ms)

    def finish(self, pending: Pending, decision: Decision | None = None, infer_ms: float | None = None) -> StepResult:
        """Record ``decision`` (one face per crop of ``pending``, in the order of its crops; ``None``
        when nothing was due) for the due tracks and return the step's :class:`StepResult`."""
        frame, faces, due = pending.frame, pending.faces, pending.due
        if due.any():
            faces = self.tracker.record(faces.track_ids[due], decision, frame.index)
        self._time_names(faces, frame.time_s)
        missed = self.tracker.missed(faces, frame.index)
        faces = faces.with_data(carried=missed >= self.config.detector.every_n_frames, fresh=missed == 0,
                                source=self.name)
        if decision is not None and decision.features is not None and due.any():
            column = np.full((len(faces), decision.features.shape[1]), np.nan, np.float32)
            column[due] = decision.features
            faces = faces.with_data(features=column)
        times = StageTimes(pending.detect_ms, pending.crop_ms, infer_ms if due.any() else None)
        return StepResult(self.name, frame.index, frame.time_s, faces, pending.detected, int(due.sum()), times)
