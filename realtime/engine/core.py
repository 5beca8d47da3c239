"""The engine core's rules that do not depend on how a run is carried: the same functions run
in the local engine's threads (:mod:`realtime.engine.local`) and in the Ray engine's actors
(:mod:`realtime.engine.ray_parts`).

- :func:`recognize_batched`: ONE model call for the crops of several requests, its
  :class:`~facecore.recognizer.Decision` split back to each request;
- :class:`FirstName`: when the run's first name was confirmed;
- :func:`drawn_faces`: what to draw on a frame from the newest result of its source (nothing
  across a scene cut; a label is *stale*, drawn grey, when it is not current: its box only
  carried along, or the result older than ``overlay.stale_s``);
- :func:`stage_figures` and :func:`fill_sources`: the per-source figures of the run report;
- :func:`load_recognizer`: the recogniser of the bundle at a path, following a bundle trained
  on another backbone.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from facecore.backbones import Backbone
from facecore.bundle import bundle_exists, load_bundle, trained_backbone
from facecore.camera import Frame
from facecore.config import Config
from facecore.errors import FacecamError
from facecore.faces import Faces
from facecore.recognizer import Decision, Recognizer, check_bundle

from .pipeline import StepResult
from .scenes import CutWatch
from .stats import RunReport

__all__ = ["recognize_batched", "FirstName", "drawn_faces", "stage_figures", "fill_sources", "load_recognizer"]


def recognize_batched(recognizer, requests: list[np.ndarray]) -> list[Decision]:
    """``requests``: ``(n_i, s, s, 3)`` uint8 crops each (a source's step, a camera's call); one
    ``recognize_crops`` call on all of them, whose decision is cut back into one per request, in order."""
    decision = recognizer.recognize_crops(np.concatenate(requests))
    return decision.split([len(crops) for crops in requests])


class FirstName:
    """When the run's first name (not ``unknown``, not voting) was confirmed: ``seconds`` after
    ``start`` (``time.perf_counter()``) and the ``frame`` (its source's index); ``None`` before."""

    def __init__(self, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self.seconds: float | None = None
        self.frame: int | None = None

    def note(self, result: StepResult) -> None:
        """Look at a step's ``result``: the first one with a confirmed name sets the time."""
        if self.seconds is None and result.confirmed.any():
            self.seconds, self.frame = time.perf_counter() - self.start, int(result.frame_index)


def drawn_faces(result: StepResult | None, frame: Frame, cuts: CutWatch, stale_s: float) -> Faces:
    """The faces to draw on ``frame`` from ``result`` (its source's newest; ``None``: none yet).

    None when a scene cut came between the result's frame and ``frame`` (``cuts`` is read, not
    changed); else the result's faces with the ``stale`` column the overlay draws grey: all of
    them when the result is more than ``stale_s`` seconds of source time older than ``frame``,
    else those whose box is only carried along."""
    if result is None or not len(result.faces):
        return Faces.empty()
    if cuts.between(result.frame_index, frame.index):
        return Faces.empty()
    old = frame.time_s - result.time_s > stale_s
    return result.faces.with_data(stale=np.ones(len(result.faces), bool) if old else result.carried)


def stage_figures(stage) -> dict:
    """What a source's :class:`~realtime.engine.pipeline.SourceStage` adds to its figures: ``name_latency_s``
    (seconds from each named track's first appearance to its name) and ``cuts`` (scene cuts found)."""
    return {"name_latency_s": [round(s, 3) for s in stage.name_latencies], "cuts": stage.cuts.count}


def fill_sources(report: RunReport, figures: dict[str, dict]) -> None:
    """``report.frames`` and ``report.sources`` from each source's ``figures`` (``frames``,
    ``status``, and :func:`stage_figures`); each source's ``fps`` is over ``report.seconds``."""
    seconds = report.seconds
    report.frames = sum(f.get("frames", 0) for f in figures.values())
    report.sources = {name: {"frames": f.get("frames", 0),
                             "fps": round(f.get("frames", 0) / seconds, 2) if seconds else 0.0,
                             "status": f.get("status", ""), "name_latency_s": f.get("name_latency_s", []),
                             "cuts": f.get("cuts", 0)}
                      for name, f in figures.items()}


def load_recognizer(path: str | Path, config: Config,
                    backbone: Backbone | None) -> tuple[Recognizer | None, Config]:
    """The recogniser of the bundle at ``path`` (``None`` when there is none) and the config it was
    built with. ``backbone`` (the one in use) is reused when the bundle fits it; a bundle trained
    on another backbone gets that one, built and warmed up (the config returned then names it).
    Raises ``FacecamError`` for a bundle that cannot be used."""
    if not bundle_exists(path):
        return None, config
    bundle = load_bundle(path)
    try:
        check_bundle(bundle, config, backbone)
    except FacecamError:
        trained = trained_backbone(bundle.meta)
        if trained is None:
            raise
        config, backbone = config.replace(backbone=trained), None  # the bundle needs another backbone
    recognizer = Recognizer.from_bundle(bundle, config, backbone=backbone)
    if backbone is None:
        recognizer.backbone.warm_up()
    return recognizer, config
