"""The pieces of ``face-live --engine ray``: the same stages as the local engine, in Ray processes.

- :class:`RecognizerReplica` (a Ray Serve deployment): the backbone, the head and the
  threshold of the bundle. ``recognize(crops)`` is a ``@serve.batch`` method: the crops
  that several cameras send within ``ray.batch_wait_s`` go through ONE model call. It
  follows the bundle as the local engine does (a new id every 2 s at most).
- :class:`CameraWorker` (a Ray actor per source): read -> detect -> track -> ask the
  replica about the due tracks -> votes -> events (and the annotated video, if asked).
- :class:`LogWriter` (one Ray actor, on the driver's machine): appends the events of all
  cameras to the one CSV log, with the local engine's guarantees.

Importing this module imports Ray; nothing else in facecam does.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
from ray import serve

from facecore.bundle import BundleWatcher, bundle_exists, bundle_id, load_bundle
from facecore.camera import Camera, SourceSpec
from facecore.config import Config
from facecore.crops import extract_crops
from facecore.errors import FacecamError
from facecore.recognizer import Decision, Recognizer

from facecore.csvlog import CsvLog

from .events import Event, EventLog, EventMaker
from .keeper import KeepRules
from .overlay import Overlay
from .pipeline import SourceStage
from .sinks import VideoSink

__all__ = ["RecognizerReplica", "CameraWorker", "LogWriter", "ANSWER_S"]

log = logging.getLogger(__name__)
ANSWER_S = 60.0  # the recogniser not answering a camera for this long ends the camera's run


class RecognizerReplica:
    """One replica of the recogniser; ``spec()`` tells cameras how to cut crops (``None``: nobody
    to recognise), ``recognize(crops)`` names them."""

    def __init__(self, config: Config) -> None:
        from .device import select_device

        # on a GPU: memory growth, not all of its memory; on LiteRT, TensorFlow is not imported
        select_device(config.recognition.device, runtime=config.recognition.runtime)
        self.config, self.recognizer, self.backbone = config, None, None
        self.calls, self.faces, self.requests, self.cpu0 = 0, 0, 0, time.process_time()
        self.watcher = BundleWatcher(config.train.model, None, every_s=2.0)
        self._load()
        self.recognize.set_max_batch_size(config.ray.max_batch_size)
        self.recognize.set_batch_wait_timeout_s(config.ray.batch_wait_s)
        self.cpu0 = time.process_time()  # start-up (the build, the warm-up) not counted, as in the local engine

    def _load(self) -> None:
        """(Re)load the bundle; without one (or a broken one) nobody is recognised."""
        path = self.config.train.model
        self.watcher.current = bundle_id(path)
        self.recognizer = None
        if not bundle_exists(path):
            return
        try:
            self.recognizer = Recognizer.from_bundle(load_bundle(path), self.config, backbone=self.backbone)
        except FacecamError as exc:
            log.warning("the model bundle at %s cannot be used (%s): every face is unknown", path, exc)
            return
        if self.backbone is None:
            self.backbone = self.recognizer.backbone
            self.backbone.warm_up()

    def spec(self) -> dict | None:
        """The bundle's id and crop settings, after a look at whether the bundle changed."""
        if self.watcher.poll():
            self._load()
        rec = self.recognizer
        if rec is None:
            return None
        return {"id": self.watcher.current, "size": rec.backbone.input_size, "margin": rec.crop.margin,
                "align": rec.crop.align}

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def recognize(self, requests: list[np.ndarray]) -> list[Decision | None]:
        """Each request: ``(n, s, s, 3)`` crops of one camera step; all in one model call, whose
        :class:`Decision` is split back per request (``None`` each while nobody is enrolled)."""
        rec = self.recognizer
        if rec is None:
            return [None] * len(requests)
        decision = rec.recognize_crops(np.concatenate(requests))
        self.calls, self.faces = self.calls + 1, self.faces + len(decision)
        self.requests += len(requests)
        return decision.split([len(crops) for crops in requests])

    def stats(self) -> dict:
        return {"calls": self.calls, "faces": self.faces, "requests": self.requests,
                "cpu_s": time.process_time() - self.cpu0}


class CameraWorker:
    """One source, end to end; ``run(max_frames)`` returns its figures. Events go to ``writer``."""

    def __init__(self, spec: SourceSpec, config: Config, recognizer, writer, video: str | None = None,
                 keep: KeepRules | None = None) -> None:
        from facecore.runtime import runtime_detector

        self.spec, self.config, self.recognizer, self.writer = spec, config, recognizer, writer
        self.detector = runtime_detector(config)
        self.stage = SourceStage(spec.name, config, self.detector, True, Path(spec.source).is_dir())
        self.maker = EventMaker(config.log, keep if config.faces.folder else None)
        self.video, self.overlay = video, Overlay(config.overlay)
        self._stop = threading.Event()
        self._crop, self._crop_id, self._next_look = None, "", 0.0
        self._figures: dict = {}

    def stop(self) -> None:
        self._stop.set()

    def progress(self) -> dict:
        """The figures of the run so far, and this actor's process id (another one: it was restarted)."""
        figures = dict(self._figures)  # one copy: the run's thread goes on changing it
        if "start" in figures:
            figures["seconds"] = time.perf_counter() - figures.pop("start")
        return {**figures, "pid": os.getpid()}

    def ready(self) -> bool:
        """Whether the actor is built (its detector loaded): the engine starts every camera's run
        once all are, so that no camera runs while the others still load their models."""
        return True

    def _cropper(self):
        """How to cut crops now (asking the replica every 2 s): ``None`` when nobody is enrolled."""
        now = time.monotonic()
        if now >= self._next_look:
            self._next_look = now + 2.0
            spec = self._answer(self.recognizer.spec.remote())
            changed = (spec or {}).get("id", "") != self._crop_id
            self._crop, self._crop_id = spec, (spec or {}).get("id", "")
            if changed:
                self.stage.forget_names(spec is not None)
        spec = self._crop
        if spec is None:
            return None
        return lambda image, faces: extract_crops(image, faces, spec["size"], spec["margin"], spec["align"])

    def run(self, max_frames: int = 0) -> dict:
        """Every frame of the source to its end (or ``max_frames``, or ``stop``). A file is stepped
        frame by frame; a live source (a camera, a stream, a paced file) as in the local engine:
        each frame is shown (written) at the source's rate with the newest labels drawn, while
        steps run on a thread on the newest frame."""
        start, cpu = time.perf_counter(), time.process_time()
        figures = {"frames": 0, "steps": 0, "requests": 0, "status": "", "seconds": 0.0, "start": start,
                   "first_name_s": None, "first_name_frame": None}
        self._figures = figures
        with Camera(self.spec.source, self.config.camera) as camera, self._sink(camera) as video:
            if camera.live:
                self._run_live(camera, video, figures, max_frames)
            else:
                for frame in camera:
                    self._show(frame, self._step(frame, figures), video, figures)
                    if self._stop.is_set() or (max_frames and figures["frames"] >= max_frames):
                        break
            figures["status"] = camera.status or "ended"
        figures.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu,
                       name_latency_s=[round(s, 3) for s in self.stage.name_latencies], cuts=self.stage.cuts.count)
        del figures["start"]
        return figures

    def _run_live(self, camera: Camera, video, figures: dict, max_frames: int) -> None:
        from .views import Worker

        name = self.spec.name
        worker = Worker(lambda frames: {name: self._step(frames[name], figures)}).start()
        try:
            for frame in camera:
                if worker.error is not None:
                    raise worker.error
                self.stage.watch(frame)  # a cut on a frame the worker skips is still seen
                worker.submit(name, frame)
                latest = worker.latest.get(name)
                self._show(frame, latest if latest is not None and not self.stage.cuts.between(
                    latest.frame_index, frame.index) else None, video, figures)
                if self._stop.is_set() or (max_frames and figures["frames"] >= max_frames):
                    break
        finally:
            worker.stop()

    @staticmethod
    def _answer(response):
        """The recogniser's answer, waited for :data:`ANSWER_S` seconds at most."""
        try:
            return response.result(timeout_s=ANSWER_S)
        except TimeoutError:
            raise FacecamError(f"the recognizer did not answer within {ANSWER_S:.0f} s") from None

    def _sink(self, camera: Camera):
        from contextlib import nullcontext

        return VideoSink(self.video, camera.fps) if self.video else nullcontext()

    def _step(self, frame, figures: dict):
        """One step on ``frame``: detect/track, ask the replica about due tracks, votes, events."""
        pending = self.stage.begin(frame, self._cropper())
        decision = None
        if pending.crops is not None:
            decision = self._answer(self.recognizer.recognize.remote(pending.crops))
            figures["requests"] += 1
            if decision is None:  # the bundle went away meanwhile
                decision = Decision.unknown(len(pending.crops))
        snapshot = self.stage.finish(pending, decision)
        if figures["first_name_s"] is None and snapshot.confirmed.any():
            figures["first_name_s"] = time.perf_counter() - figures["start"]
            figures["first_name_frame"] = frame.index
        events = self.maker.events(snapshot, frame.image)
        if events:
            self.writer.write.remote(events)
        figures["steps"] += 1
        return snapshot

    def _show(self, frame, snapshot, video, figures: dict) -> None:
        """Count ``frame`` as shown and write it, with ``snapshot``'s labels, to the video if any."""
        if video is not None:
            video.write(frame.image if snapshot is None else self.overlay.annotate(frame.image, snapshot.faces))
        figures["frames"] += 1


class LogWriter:
    """The one writer of the CSV log (and of the face crops), for every camera: the same
    :class:`EventLog` as the local engine's writer thread applies (the actor's calls already
    leave the cameras' threads; no hub here yet)."""

    def __init__(self, config: Config, keep: KeepRules | None = None) -> None:
        path = config.log.path
        self.events = EventLog(CsvLog(path, config.log.fsync) if path else None, config.log,
                               config.faces.folder or None, keep=keep, database=config.events.database)

    def write(self, events: list[Event]) -> int:
        return self.events.write(events)

    def progress(self) -> dict:
        return {"rows": self.events.rows, "pid": os.getpid()}

    def close(self) -> dict:
        self.events.close()
        return {"rows": self.events.rows, "unwritten": self.events.unwritten, "error": self.events.error}
