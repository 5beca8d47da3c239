"""The live loop: frames in, recognition steps, annotated frames out (window, video, CSV).

Two ways to run, chosen by the source:

- files and folders (not paced): every frame, in order, one step each, inline. The
  output is the same on every run, whatever the machine's speed.
- live sources (a camera, a stream, a paced file): a worker thread runs the steps on
  the newest frame it is given and publishes an immutable :class:`Snapshot`; the
  main thread draws the latest snapshot on every frame at the source's rate, so the
  picture never waits for the models. Labels older than ``overlay.stale_s`` are drawn
  grey and marked stale; they stay on their track's box, never on another face.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from facecore.camera import Camera, Frame
from facecore.errors import SourceError

from .events import EventLog
from .overlay import Overlay
from .pipeline import Pipeline, Snapshot
from .sinks import KEY_PAUSE, KEY_QUIT, KEY_SNAPSHOT, VideoSink, Window
from .stats import RunReport, Stats

__all__ = ["LiveLoop", "LoopOptions", "Worker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopOptions:
    """``max_frames``: stop after this many frames (0: no limit); ``hint``: a line kept on screen
    while no model is loaded;
    ``stale_s``: age in source seconds after which labels are drawn as stale;
    ``snapshot_dir``: where the ``s`` key saves the annotated frame."""

    max_frames: int = 0
    hint: str = ""
    stale_s: float = 1.0
    snapshot_dir: str = "."
    show_stats: bool = True


class Worker:
    """Runs ``process(frame)`` on a thread, always on the newest submitted frame."""

    def __init__(self, process: Callable[[Frame], Snapshot]) -> None:
        self._process = process
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._stopping = False
        self.latest: Snapshot | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="facecam-recognition", daemon=True)

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def submit(self, frame: Frame) -> None:
        """Hand over ``frame``; an older frame not yet taken is dropped."""
        with self._cond:
            self._pending = frame
            self._cond.notify()

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the step in progress (not the waiting frame) and end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                frame, self._pending = self._pending, None
            try:
                self.latest = self._process(frame)
            except BaseException as exc:  # handed to the main thread, which raises it
                self.error = exc
                return


class LiveLoop:
    """One run over one opened ``camera``; ``run()`` returns a :class:`RunReport`."""

    def __init__(self, camera: Camera, pipeline: Pipeline, events: EventLog, overlay: Overlay,
                 options: LoopOptions, stop: threading.Event | None = None,
                 window: Window | None = None, video: VideoSink | None = None, reloader=None) -> None:
        self.camera, self.pipeline, self.events, self.overlay = camera, pipeline, events, overlay
        self.options, self.window, self.video, self.reloader = options, window, video, reloader
        self.stop = stop or threading.Event()
        self.report = RunReport()
        self.stats = Stats()
        self.paused = False
        self._start = 0.0
        self._canvas: np.ndarray | None = None
        self._last: tuple[Frame, Snapshot] | None = None

    # -- the run ------------------------------------------------------------------------
    def run(self) -> RunReport:
        self._start = time.perf_counter()
        runner = self._run_live if self.camera.live else self._run_inline
        self.report.ended = runner(iter(self.camera))
        self.report.seconds = time.perf_counter() - self._start
        self.report.rows = self.events.rows
        if self.camera.status.startswith("source lost"):
            raise SourceError(f"{self.camera.source}: {self.camera.status}")
        if self.report.ended == "end" and self.window is not None:
            self._hold()
        return self.report

    def _run_inline(self, frames: Iterable[Frame]) -> str:
        for frame in frames:
            snapshot = self._process(frame)
            reason = self._present(frame, snapshot) or self._while_paused()
            if reason:
                return reason
        return "end"

    def _run_live(self, frames: Iterable[Frame]) -> str:
        worker = Worker(self._process).start()
        shown: Frame | None = None
        try:
            for frame in frames:
                if worker.error is not None:
                    break
                if shown is not None and frame.index == shown.index:  # the source is reconnecting
                    reason = self._redraw(shown, worker.latest or Snapshot.empty(frame.index, frame.time_s))
                elif not self.paused or shown is None:
                    worker.submit(frame)
                    shown = frame
                    reason = self._present(shown, worker.latest or Snapshot.empty(frame.index, frame.time_s))
                else:
                    reason = self._key(self.window.wait(1) if self.window else -1)
                if reason:
                    return reason
            return "end"
        finally:
            worker.stop()
            if shown is not None and worker.latest is not None:
                self._last = (shown, worker.latest)
            if worker.error is not None:
                raise worker.error

    # -- one step (worker thread in live mode) ------------------------------------------
    def _process(self, frame: Frame) -> Snapshot:
        snapshot = self.pipeline.step(frame)
        self.events.record(snapshot, frame.image)
        self.stats.step(snapshot.times)
        self.report.steps += 1
        if snapshot.recognized:
            self.report.model_calls += 1
            self.report.faces_recognized += snapshot.recognized
        if self.report.first_name_s is None and snapshot.confirmed.any():
            self.report.first_name_s = time.perf_counter() - self._start
            self.report.first_name_frame = snapshot.frame_index
        return snapshot

    # -- display (main thread) ----------------------------------------------------------
    def _present(self, frame: Frame, snapshot: Snapshot) -> str | None:
        """Draw ``snapshot`` on ``frame``, show and write it; returns why to stop, if so."""
        if self.reloader is not None:
            self.reloader.poll()
        canvas = self._render(frame, snapshot)
        self.stats.shown()
        if self.video is not None:
            self.video.write(canvas)
        self.report.frames += 1
        self._last, self._canvas = (frame, snapshot), canvas
        reason = self._key(self.window.show(canvas) if self.window else -1)
        if reason:
            return reason
        if self.options.max_frames and self.report.frames >= self.options.max_frames:
            return "max-frames"
        return None

    def _redraw(self, frame: Frame, snapshot: Snapshot) -> str | None:
        """Show ``frame`` again with the current notes (no new frame: not counted, not written)."""
        self._canvas = self._render(frame, snapshot)
        return self._key(self.window.show(self._canvas) if self.window else -1)

    def _render(self, frame: Frame, snapshot: Snapshot, extra: tuple = ()) -> np.ndarray:
        stale = snapshot.stale
        if len(snapshot.faces) and frame.time_s - snapshot.time_s > self.options.stale_s:
            stale = np.ones(len(snapshot.faces), bool)
        canvas = self.overlay.annotate(frame.image, snapshot.faces, stale)
        self._decorate(canvas, extra)
        return canvas

    def _decorate(self, canvas: np.ndarray, extra: tuple = ()) -> None:
        if self.options.show_stats:
            self.overlay.panel(canvas, self.stats.lines())
        paused = "PAUSED (p: resume)" if self.paused else ""
        hint = self.options.hint if self.pipeline.recognizer is None else ""
        notes = [n for n in (hint, self.camera.status, self.events.status, paused, *extra) if n]
        self.overlay.panel(canvas, notes, "bottom-left")

    def _while_paused(self) -> str | None:
        """Inline mode: keep the window alive while paused; returns why to stop, if so."""
        while self.paused and self.window is not None:
            if self.stop.is_set():
                return "signal"
            reason = self._key(self.window.wait(30))
            if reason:
                return reason
        return None

    def _key(self, key: int) -> str | None:
        if key in KEY_QUIT or (self.window is not None and self.window.closed):
            return "quit"
        if key in KEY_PAUSE:
            self.paused = not self.paused
            log.info("paused" if self.paused else "resumed")
            if self.window is not None and self._last is not None:  # show (or clear) the PAUSED note now
                self._canvas = self._render(*self._last)
                self.window.show(self._canvas)
        elif key in KEY_SNAPSHOT and self._canvas is not None:
            self._save_snapshot(self._canvas)
        return "signal" if self.stop.is_set() else None

    def _save_snapshot(self, canvas: np.ndarray) -> Path | None:
        folder = Path(self.options.snapshot_dir)
        path = folder / f"facecam-{datetime.now():%Y%m%d-%H%M%S-%f}.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot save a snapshot in %s: %s", folder, exc.strerror)
            return None
        if not cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)):
            log.warning("cannot write the snapshot %s", path)
            return None
        log.info("snapshot saved to %s", path)
        return path

    def _hold(self) -> None:
        """End of a file with a window: keep the last picture up until ``q``/``Esc`` or close."""
        if self._last is None:
            return
        self._canvas = self._render(*self._last, extra=("end of source: press q to quit",))
        self.window.show(self._canvas)
        while not self.stop.is_set():
            if self._key(self.window.wait(50)) == "quit":
                return
