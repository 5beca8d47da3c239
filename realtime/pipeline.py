"""One recognition step on one frame: detect -> track -> crop -> one batched model call.

``Pipeline.step(frame)`` returns an immutable :class:`Snapshot` (the tracked faces
with their names, and how long each stage took) that the display draws and the CSV
log records. Without a recogniser (nobody enrolled) every track is ``unknown`` and
no backbone is needed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from facecore.camera import Frame
from facecore.config import Config
from facecore.detector import Detector
from facecore.faces import PENDING, UNKNOWN, Faces
from facecore.recognizer import Recognizer

from .tracker import Tracker

__all__ = ["Pipeline", "Snapshot", "StageTimes"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageTimes:
    """Milliseconds spent in each stage of one step; ``None`` for a stage that did not run."""

    detect_ms: float | None = None
    crop_ms: float | None = None
    infer_ms: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """What one step knows about one frame.

    ``faces``: the live tracks (boxes in that frame's pixels, ``names`` decided by votes,
    ``…`` until then); ``stale``: ``(n,)`` bool, the track missed its last detection and
    its box is only carried along; ``fresh``: ``(n,)`` bool, detected on this very frame;
    ``recognized``: how many faces went through the model in this step.
    """

    frame_index: int
    time_s: float
    faces: Faces
    stale: np.ndarray
    fresh: np.ndarray
    detected: bool = False
    recognized: int = 0
    times: StageTimes = field(default_factory=StageTimes)

    @classmethod
    def empty(cls, frame_index: int = -1, time_s: float = 0.0) -> "Snapshot":
        return cls(frame_index, time_s, Faces.empty(), np.zeros(0, bool), np.zeros(0, bool))

    @property
    def confirmed(self) -> np.ndarray:
        """``(n,)`` bool: faces whose track has a decided name that is not ``unknown``."""
        names = self.faces.names
        return np.array([n not in (PENDING, UNKNOWN, "") for n in names], bool)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Pipeline:
    """Detection every ``detector.every_n_frames`` frames (of the source's numbering),
    tracking on every frame, recognition of the tracks that are due, in one call.

    ``stills``: the frames are unrelated photos (a folder): every one is detected and
    recognised on its own, and named by its single prediction; no track crosses photos.
    """

    def __init__(self, config: Config, detector: Detector, recognizer: Recognizer | None = None,
                 stills: bool = False) -> None:
        if stills:
            config = config.replace(detector={"every_n_frames": 1}, tracker={"vote_window": 1, "vote_min": 1})
        self.config = config
        self.detector = detector
        self.recognizer = recognizer
        self.stills = stills
        self.tracker = Tracker(config.tracker, PENDING if recognizer is not None else UNKNOWN)
        self._next_detect = 0
        self._offered: list[Recognizer | None] = []  # a recogniser handed over by another thread
        self._offer_lock = threading.Lock()

    def offer(self, recognizer: Recognizer | None) -> None:
        """Use ``recognizer`` (``None``: nobody to recognise) from the next step on; any thread
        may call this. Every track forgets its name then and is recognised again."""
        with self._offer_lock:
            self._offered = [recognizer]

    def _take_offered(self) -> None:
        with self._offer_lock:
            offered, self._offered = self._offered, []
        if offered:
            self.recognizer = offered[0]
            self.tracker.forget_names(PENDING if self.recognizer is not None else UNKNOWN)

    def warm_up(self) -> None:
        """Trace the detector and every fixed batch size of the backbone, so no frame pays for it.

        The detector's compiled networks were traced for any size when it was built; one
        blank 16:9 frame pays its remaining first-call costs.
        """
        side = self.config.detector.max_side
        self.detector.detect(np.zeros((side * 9 // 16, side, 3), np.uint8))
        if self.recognizer is not None:
            self.recognizer.backbone.warm_up()

    def step(self, frame: Frame) -> Snapshot:
        """Process one frame (RGB uint8 ``(h, w, 3)``); frames must come in source order."""
        index, detected, detect_ms = frame.index, None, None
        self._take_offered()
        if self.stills:
            self.tracker.clear()
        if index >= self._next_detect:
            start = time.perf_counter()
            detected = self.detector.detect(frame.image)
            detect_ms = _ms(start)
            self._next_detect = index + self.config.detector.every_n_frames
        faces = self.tracker.update(detected, index)
        faces, crop_ms, infer_ms, count = self._recognize(frame, faces)
        missed = self.tracker.missed(faces, index)
        return Snapshot(
            index, frame.time_s, faces,
            stale=missed >= self.config.detector.every_n_frames,
            fresh=missed == 0,
            detected=detected is not None,
            recognized=count,
            times=StageTimes(detect_ms, crop_ms, infer_ms),
        )

    def _recognize(self, frame: Frame, faces: Faces) -> tuple[Faces, float | None, float | None, int]:
        """Crop the due faces and run ONE batched model call for all of them (none when none is due)."""
        if self.recognizer is None:
            return faces, None, None, 0
        due = self.tracker.due(faces, frame.index)
        if not due.any():
            return faces, None, None, 0
        start = time.perf_counter()
        crops = self.recognizer.crops(frame.image, faces[due])
        crop_ms = _ms(start)
        start = time.perf_counter()
        decision = self.recognizer.recognize_crops(crops)
        infer_ms = _ms(start)
        faces = self.tracker.record(faces.track_ids[due], decision.names, decision.confidences, frame.index)
        return faces, crop_ms, infer_ms, int(due.sum())
