"""The pieces of ``face-live --engine ray``: the same stages as the local engine, in Ray processes.

- :class:`RecognizerReplica` (a Ray Serve deployment): the backbone, the head and the
  threshold of the bundle. ``recognize(crops)`` is a ``@serve.batch`` method: the crops
  that several cameras send within ``ray.batch_wait_s`` go through ONE model call. It
  follows the bundle as the local engine does (a new id every 2 s at most).
- :class:`CameraWorker` (a Ray actor per source): read -> the engine core's step (detect ->
  track -> ask the replica about the due tracks -> votes) -> events and views to the log actor
  (:mod:`realtime.events.ray_hub`), and the annotated video, if asked, drawn by the core's rule.
  Every 2 s a thread of the actor asks the replica for its bundle and the log actor what the
  driver's hub wants; no step waits for those answers.

Importing this module imports Ray; nothing else in facecam does.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import ray
from ray import serve

from facecore.bundle import BundleWatcher, bundle_id
from facecore.camera import Camera, SourceSpec
from facecore.config import Config
from facecore.crops import extract_crops
from facecore.errors import FacecamError
from facecore.recognizer import Decision

from ..events.keeper import KeepRules
from ..events.records import EventMaker
from ..events.writer import view_record
from ..window.overlay import Overlay
from ..window.sinks import VideoSink
from .core import drawn_faces, load_recognizer, recognize_batched, stage_figures
from .pipeline import SourceStage
from .step import Engine

__all__ = ["RecognizerReplica", "ReplicaTally", "CameraWorker", "RemoteRecognizer", "build_detector", "answer",
           "replica_totals", "ANSWER_S"]

log = logging.getLogger(__name__)
ANSWER_S = 60.0  # the recogniser not answering a camera for this long ends the camera's run
LOOK_S = 2.0  # how often a camera actor asks the replica for its bundle and the log actor what the hub wants


class ReplicaTally:
    """One replica's figures (``calls``, ``faces``, ``requests``, ``cpu_s`` since :meth:`start`) under a
    ``replica`` key of its own. Every answer of ``recognize`` carries them: a call through the handle
    reaches one replica only, so the run's totals are added up from what the cameras were told
    (:func:`replica_totals`)."""

    def __init__(self) -> None:
        self.key = uuid.uuid4().hex[:12]
        self.calls = self.faces = self.requests = 0
        self.start()

    def start(self) -> None:
        self.cpu0 = time.process_time()

    def add(self, parts: list) -> None:
        """One model call, split into ``parts`` (one per request)."""
        self.calls, self.faces = self.calls + 1, self.faces + sum(len(part) for part in parts)
        self.requests += len(parts)

    def figures(self) -> dict:
        return {"replica": self.key, "calls": self.calls, "faces": self.faces, "requests": self.requests,
                "cpu_s": time.process_time() - self.cpu0}

    def answers(self, parts: list) -> list[tuple]:
        """``(part, figures)`` for each request."""
        figures = self.figures()
        return [(part, figures) for part in parts]


def replica_totals(results: dict, asked: dict) -> dict:
    """``calls``, ``faces`` and ``cpu_s`` of every replica together: each replica's as the latest answer a
    camera got from it said (``results``: each camera's figures, their ``replicas``); ``asked`` (one
    replica's own figures, asked at the end) when no camera was answered."""
    latest: dict[str, dict] = {}
    for figures in results.values():
        for key, tally in (figures.get("replicas") or {}).items():
            if key not in latest or tally["calls"] > latest[key]["calls"]:
                latest[key] = tally
    if not latest:
        return asked
    return {name: sum(tally.get(name, 0) for tally in latest.values()) for name in ("calls", "faces", "cpu_s")}


class RecognizerReplica:
    """One replica of the recogniser; ``spec()`` tells cameras how to cut crops (``None``: nobody
    to recognise), ``recognize(crops)`` names them."""

    def __init__(self, config: Config) -> None:
        from .device import select_device

        # on a GPU: memory growth, not all of its memory; on LiteRT, TensorFlow is not imported
        select_device(config.recognition.device, runtime=config.recognition.runtime)
        self.config, self.recognizer, self.backbone = config, None, None
        self.tally = ReplicaTally()
        self.watcher = BundleWatcher(config.train.model, None, every_s=2.0)
        self._load()
        self.recognize.set_max_batch_size(config.ray.max_batch_size)
        self.recognize.set_batch_wait_timeout_s(config.ray.batch_wait_s)
        self.tally.start()  # start-up (the build, the warm-up) not counted, as in the local engine

    def _load(self) -> None:
        """(Re)load the bundle, as the local engine does (:func:`realtime.engine.core.load_recognizer`: a bundle
        trained on another backbone gets that one); without one (or a broken one) nobody is recognised."""
        path = self.config.train.model
        self.watcher.current = bundle_id(path)
        self.recognizer = None
        try:
            self.recognizer, self.config = load_recognizer(path, self.config, self.backbone)
        except FacecamError as exc:
            log.warning("the model bundle at %s cannot be used (%s): every face is unknown", path, exc)
            return
        if self.recognizer is not None:
            self.backbone = self.recognizer.backbone

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
    async def recognize(self, requests: list[np.ndarray]) -> list[tuple]:
        """Each request: ``(n, s, s, 3)`` crops of one camera step; all in one model call, whose
        :class:`Decision` is split back per request (``None`` each while nobody is enrolled), each
        with this replica's figures (:class:`ReplicaTally`)."""
        rec = self.recognizer
        if rec is None:
            return self.tally.answers([None] * len(requests))
        parts = recognize_batched(rec, requests)
        self.tally.add(parts)
        return self.tally.answers(parts)

    def stats(self) -> dict:
        return self.tally.figures()


def build_detector(config: Config):
    """The detector of a camera actor, on the configured runtime (``recognition.runtime``: LiteRT on a
    CPU, so that the actor never imports TensorFlow)."""
    from facecore.runtime import runtime_detector

    if not config.recognition.threads:  # as many LiteRT threads as the CPUs Ray gives the actor (at least one)
        config = config.replace(recognition={"threads": max(1, int(config.ray.camera_cpus))})
    return runtime_detector(config)


class RemoteRecognizer:
    """The Serve deployment seen by the engine core as a recogniser: crops are cut as its ``spec``
    says (``size``, ``margin``, ``align``), and ``recognize_crops`` asks it (:data:`ANSWER_S` at most);
    each answer's replica figures go into ``tallies`` (by replica)."""

    def __init__(self, handle, spec: dict, tallies: dict | None = None) -> None:
        self.handle, self.spec = handle, spec
        self.tallies = {} if tallies is None else tallies

    def crops(self, image: np.ndarray, faces) -> np.ndarray:
        spec = self.spec
        return extract_crops(image, faces, spec["size"], spec["margin"], spec["align"])

    def recognize_crops(self, crops: np.ndarray) -> Decision:
        decision, tally = answer(self.handle.recognize.remote(crops))
        self.tallies[tally["replica"]] = tally
        return Decision.unknown(len(crops)) if decision is None else decision  # the bundle went away meanwhile


def answer(response):
    """A Serve call's answer, waited for :data:`ANSWER_S` seconds at most."""
    try:
        return response.result(timeout_s=ANSWER_S)
    except TimeoutError:
        raise FacecamError(f"the recognizer did not answer within {ANSWER_S:.0f} s") from None


class CameraWorker:
    """One source, end to end; ``run(max_frames)`` returns its figures. The engine core's step on one
    source (:class:`~realtime.engine.step.Engine`, its recogniser the Serve deployment); events and, while
    the driver's hub has subscribers, each step's view go to ``writer`` (the log actor).
    ``detector``: builds the detector from the config (default :func:`build_detector`)."""

    def __init__(self, spec: SourceSpec, config: Config, recognizer, writer, video: str | None = None,
                 keep: KeepRules | None = None, detector=None) -> None:
        self.spec, self.config, self.recognizer, self.writer = spec, config, recognizer, writer
        self.detector = (detector or build_detector)(config)
        self.stage = SourceStage(spec.name, config, self.detector, False, Path(spec.source).is_dir())  # until a spec
        self.engine = Engine([self.stage], self.detector, None)
        self.engine.warm_up()  # as in the local engine: no frame of the run pays the detector's first calls
        self.maker = EventMaker(config.log, keep if config.faces.folder else None)
        self.video, self.overlay = video, Overlay(config.overlay)
        self._stop = threading.Event()
        self._spec_key: tuple | None = None  # (bundle id, a recogniser at all) of the recogniser offered last
        self._wants = {"views": False, "watching": ()}  # what the driver's hub wants, as last heard
        self._look_error: FacecamError | None = None  # the replica did not answer the look thread
        self._tallies: dict[str, dict] = {}  # each replica's figures, from its latest answer
        self._looker: threading.Thread | None = None  # the run's look thread
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
        """Whether the actor is built (its detector loaded and warmed up): the engine starts every camera's run
        once all are, so that no camera runs while the others still load their models. The first call
        through the recogniser's handle is made here too: it sets up the handle's routing in this
        process (a second or more on a busy machine), which no frame of the run should wait for."""
        answer(self.recognizer.spec.remote())
        return True

    def _look(self, ended: threading.Event | None = None) -> None:
        """The replica's crop spec (a new bundle, or none: offered to the engine, and every track is
        named afresh) and what the driver's hub wants (views at all; the sources whose pictures are
        watched). Nothing more once ``ended`` is set (the run ended while the replica answered)."""
        spec = answer(self.recognizer.spec.remote())
        if ended is not None and ended.is_set():
            return
        key = ((spec or {}).get("id", ""), spec is not None)
        if key != self._spec_key:
            self._spec_key = key
            self.engine.offer(RemoteRecognizer(self.recognizer, spec, self._tallies) if spec is not None else None)
        try:
            self._wants = ray.get(self.writer.wants.remote(), timeout=ANSWER_S)
        except ray.exceptions.RayError as exc:
            log.debug("the log actor did not say what the hub wants: %s", exc)

    def _looking(self, ended: threading.Event) -> None:
        """:meth:`_look` every :data:`LOOK_S` seconds until ``ended``, on a thread of its own: the
        replica answers a look only once the batch it runs is done, and no step waits for that."""
        while not ended.wait(LOOK_S):
            try:
                self._look(ended)
            except FacecamError as exc:  # the replica did not answer: the run ends at its next step
                self._look_error = exc
                return

    def run(self, max_frames: int = 0) -> dict:
        """Every frame of the source to its end (or ``max_frames``, or ``stop``). A file is stepped
        frame by frame; a live source (a camera, a stream, a paced file) as in the local engine:
        each frame is shown (written) at the source's rate with the newest labels drawn
        (:func:`realtime.engine.core.drawn_faces`), while steps run on a thread on the newest frame."""
        self._look()  # the first look before the run's clock starts; the next ones on their own thread
        ended = threading.Event()
        self._looker = threading.Thread(target=self._looking, args=(ended,), name="facecam-look", daemon=True)
        self._looker.start()
        try:
            return self._run(max_frames)
        finally:
            ended.set()

    def _run(self, max_frames: int) -> dict:
        start, cpu = time.perf_counter(), time.process_time()
        self.engine.start_clock()
        figures = {"frames": 0, "steps": 0, "requests": 0, "status": "", "seconds": 0.0, "start": start,
                   "first_name_s": None, "first_name_frame": None, "replicas": self._tallies}
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
                       **stage_figures(self.stage))
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
                self._show(frame, worker.latest.get(name), video, figures)
                if self._stop.is_set() or (max_frames and figures["frames"] >= max_frames):
                    break
        finally:
            worker.stop()

    def _sink(self, camera: Camera):
        from contextlib import nullcontext

        return VideoSink(self.video, camera.fps) if self.video else nullcontext()

    def _step(self, frame, figures: dict):
        """One step of the engine core on ``frame``, then its events and its view to the log actor."""
        if self._look_error is not None:
            raise self._look_error
        result = self.engine.step({self.spec.name: frame})[self.spec.name]
        first = self.engine.first_name
        figures.update(steps=self.engine.counts.steps, requests=self.engine.counts.calls,
                       first_name_s=first.seconds, first_name_frame=first.frame)
        events = self.maker.events(result, frame.image)
        if events:
            self.writer.write.remote(events)
        if self._wants["views"]:
            view = view_record(result)
            if self.spec.name in self._wants["watching"]:
                view["picture"] = frame.image
            self.writer.view.remote(view)
        return result

    def _show(self, frame, result, video, figures: dict) -> None:
        """Count ``frame`` as shown and write it, with what :func:`realtime.engine.core.drawn_faces` says of
        ``result``, to the video if any."""
        if video is not None:
            faces = drawn_faces(result, frame, self.stage.cuts, self.config.overlay.stale_s)
            video.write(self.overlay.annotate(frame.image, faces) if len(faces) else frame.image)
        figures["frames"] += 1
