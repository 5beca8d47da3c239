"""The engine core's step: many sources, one recogniser, one batched model call per step.

A step takes the newest frame of each source that has one:

1. each source's stage detects (when due), tracks and cuts the crops of its due tracks;
2. the crops of all sources go through ONE backbone call (padded to the fixed batch
   sizes) and the head: faces from several cameras share that call;
3. the one :class:`~facecore.recognizer.Decision` is split back into each stage's share
   (names, scores and the faces' feature vectors), and each stage votes.

Both transports step an :class:`Engine`: the local engine's recognition thread with every
source, each camera actor of the Ray engine with its own source (its recogniser then asks the
Serve deployment, which batches the calls of all cameras in the same way).
The step also notes when the first name was confirmed (:attr:`Engine.first_name`).

The recogniser can be replaced from another thread (:meth:`Engine.offer`, used when the
model bundle changes); the new one is used from the next step on, and every track is
then named afresh.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from facecore.camera import Frame
from facecore.detector import Detector
from facecore.recognizer import Decision, Recognizer

from .core import FirstName, recognize_batched
from .pipeline import StepResult, SourceStage

__all__ = ["Engine", "EngineCounts"]


@dataclass
class EngineCounts:
    """``steps``; ``calls``: steps with a model call, for ``faces`` faces in all; ``batches``: how
    many calls had each number of faces (before padding)."""

    steps: int = 0
    calls: int = 0
    faces: int = 0
    batches: Counter = field(default_factory=Counter)

    @property
    def faces_per_call(self) -> float:
        return self.faces / self.calls if self.calls else 0.0


class Engine:
    """Steps ``stages`` (by source name) with ``recognizer`` (``None``: every face is unknown)."""

    def __init__(self, stages: list[SourceStage], detector: Detector, recognizer: Recognizer | None) -> None:
        self.stages = {stage.name: stage for stage in stages}
        self.detector, self.recognizer = detector, recognizer
        self.counts = EngineCounts()
        self.first_name = FirstName()
        self._offered: list[Recognizer | None] = []
        self._lock = threading.Lock()

    def offer(self, recognizer: Recognizer | None) -> None:
        """Use ``recognizer`` from the next step on (any thread may call this)."""
        with self._lock:
            self._offered = [recognizer]

    def _take_offered(self) -> None:
        with self._lock:
            offered, self._offered = self._offered, []
        if offered:
            self.recognizer = offered[0]
            for stage in self.stages.values():
                stage.forget_names(self.recognizer is not None)

    def start_clock(self) -> None:
        """The run starts now: :attr:`first_name` is timed from here."""
        self.first_name = FirstName()

    def warm_up(self) -> None:
        """Pay every first-call cost now: the detector's on one blank frame, and the backbone's
        for each fixed batch size, so that no frame waits for it."""
        side = self.detector.config.max_side
        self.detector.detect(np.zeros((side * 9 // 16, side, 3), np.uint8))
        if self.recognizer is not None:
            self.recognizer.backbone.warm_up()

    def step(self, frames: dict[str, Frame]) -> dict[str, StepResult]:
        """One step over the newest frame of each source in ``frames`` (by source name)."""
        self._take_offered()
        recognizer = self.recognizer
        crop = recognizer.crops if recognizer is not None else None
        pending = {name: self.stages[name].begin(frame, crop) for name, frame in frames.items()}
        due = [(name, p) for name, p in pending.items() if p.crops is not None]
        shares: dict[str, Decision] = {}
        infer_ms = None
        if due:
            start = time.perf_counter()
            parts = recognize_batched(recognizer, [p.crops for _, p in due])
            infer_ms = (time.perf_counter() - start) * 1000.0
            shares = dict(zip((name for name, _ in due), parts))
            faces = sum(len(part) for part in parts)
            self.counts.calls += 1
            self.counts.faces += faces
            self.counts.batches[faces] += 1
        self.counts.steps += 1
        results = {name: self.stages[name].finish(p, shares.get(name), infer_ms=infer_ms)
                     for name, p in pending.items()}
        for result in results.values():
            self.first_name.note(result)
        return results
