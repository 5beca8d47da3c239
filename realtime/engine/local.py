"""The live loop: frames of every source in, engine steps, annotated frames out
(one window with a tile per source, one video per source, the CSV log).

Two ways to run, chosen by the sources:

- files and folders only (not paced): every frame of every source, in order, one engine
  step per round (one frame of each source still playing), inline. The output is the
  same on every run, whatever the machine's speed.
- any live source (a camera, a stream, a paced file; files are then paced too): a worker
  thread runs engine steps on the newest frame of each source and publishes a
  :class:`StepResult` per source; the main thread draws the latest result on every frame
  at each source's rate, so the picture never waits for the models. Labels older than
  ``overlay.stale_s`` are drawn grey and marked stale. Every frame shown is measured for a
  scene cut: a result of a frame before a cut is not drawn on the frames after it.

A source that ends or is lost ends alone, and its tile says so; the run ends when every
source has ended, or on ``q``/``Esc``, a closed window, ``--max-frames`` or a signal.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from facecore.camera import Frame, is_stream
from facecore.errors import SourceError, StorageError
from facecore.faces import Faces
from facecore.files import make_dirs_private, write_private

from ..events.records import EventLog
from ..events.writer import Writer
from ..window.overlay import Mosaic, Overlay
from ..window.sinks import KEY_PAUSE, KEY_QUIT, KEY_SCREENSHOT, Window
from .core import drawn_faces, fill_sources, stage_figures
from .pipeline import StepResult
from .stats import RunReport
from .step import Engine
from .views import LoopOptions, View, Worker

__all__ = ["LiveLoop", "LoopOptions", "Worker", "View"]

log = logging.getLogger(__name__)
_REDRAW_S = 0.5  # a source that is reconnecting has its last frame drawn again this often
_SHOW_HZ = 30.0  # the grid of several sources is shown at most this often


class LiveLoop:
    """One run over opened sources (``views``); ``run()`` returns a :class:`RunReport`."""

    def __init__(self, views: list[View], engine: Engine, events: EventLog | Writer, overlay: Overlay,
                 options: LoopOptions, stop: threading.Event | None = None, window: Window | None = None,
                 reloader=None, say=log.info) -> None:
        self.views, self.engine, self.events, self.overlay = {v.name: v for v in views}, engine, events, overlay
        self.options, self.window, self.reloader, self.say = options, window, reloader, say
        self.stop = stop or threading.Event()
        self.report = RunReport()
        self.paused = False
        self._start = 0.0
        self._mosaic = Mosaic(len(views), overlay) if len(views) > 1 else None
        self._next_show, self._dirty = 0.0, False

    # -- the run ------------------------------------------------------------------------
    def run(self) -> RunReport:
        self._start, cpu = time.perf_counter(), time.process_time()
        self.engine.start_clock()
        live = any(v.camera.live for v in self.views.values())
        self.report.ended = self._run_live() if live else self._run_inline()
        self.report.seconds = time.perf_counter() - self._start
        self.report.cpu_s = time.process_time() - cpu
        self._fill_report()
        lost = [v for v in self.views.values() if v.camera.status.startswith("source lost")]
        if lost:
            raise SourceError("; ".join(f"{v.camera.label}: {v.camera.status}" for v in lost))
        if self.report.ended == "end" and self.window is not None:
            self._ended()
        return self.report

    def _fill_report(self) -> None:
        counts, r = self.engine.counts, self.report
        r.steps, r.model_calls, r.faces_recognized, r.rows = counts.steps, counts.calls, counts.faces, self.events.rows
        r.first_name_s, r.first_name_frame = self.engine.first_name.seconds, self.engine.first_name.frame
        fill_sources(r, {v.name: {"frames": v.frames, "status": v.camera.status or ("ended" if v.ended else ""),
                                  **stage_figures(self.engine.stages[v.name])} for v in self.views.values()})

    def _run_inline(self) -> str:
        frames: dict[str, Iterator[Frame]] = {name: iter(v.camera) for name, v in self.views.items()}
        while True:
            batch = {}
            for name, it in frames.items():
                frame = None if self.views[name].ended else next(it, None)
                if frame is None:
                    self.views[name].ended = True
                else:
                    batch[name] = frame
            if not batch:
                return self._why_done()
            results = self._process(batch)
            for name, frame in batch.items():
                self._present(self.views[name], frame, results[name])
            reason = self._show(True) or self._while_paused()
            if reason:
                return reason

    def _run_live(self) -> str:
        worker = Worker(self._process).start()
        try:
            while worker.error is None:
                shown = 0
                for view in self.views.values():
                    shown += self._poll(view, worker)
                if all(v.ended for v in self.views.values()):
                    return self._why_done()
                reason = self._show(shown > 0)
                if reason:
                    return reason
                if not shown:
                    self.stop.wait(0.003)
            return "error"
        finally:
            worker.stop()
            if worker.error is not None:
                raise worker.error

    def _poll(self, view: View, worker: Worker) -> int:
        """Show ``view``'s newest frame if it is new (handing it to the worker); 1 when shown."""
        if view.ended:
            return 0
        frame = view.camera.newest()
        if view.camera.finished and (frame is None or (view.frame is not None and frame.index == view.frame.index)):
            view.ended = True
            return 0
        if frame is None or self.paused and view.frame is not None:
            return 0
        latest = worker.latest.get(view.name) or StepResult.empty(view.name, frame.index, frame.time_s)
        if view.frame is not None and frame.index == view.frame.index:
            if view.camera.status and time.monotonic() - view._drawn_at >= _REDRAW_S:  # reconnecting
                view.result, view.canvas, view.cell, view._drawn_at = latest, None, None, time.monotonic()
                return 1
            return 0
        self.engine.stages[view.name].watch(frame)
        worker.submit(view.name, frame)
        self._present(view, frame, latest)
        return 1

    # -- one step (worker thread in live mode) ------------------------------------------
    # ``events.record`` only makes the step's events and queues them when ``events`` is the
    # process's :class:`Writer`: the files are written on the writer's thread.
    def _process(self, frames: dict[str, Frame]) -> dict[str, StepResult]:
        results = self.engine.step(frames)
        for name, result in results.items():
            self.events.record(result, frames[name].image)
            self.views[name].stats.step(result.times)
        return results

    # -- display (main thread) ----------------------------------------------------------
    def _present(self, view: View, frame: Frame, result: StepResult) -> None:
        """Draw ``result`` on ``frame`` and write it to the source's video."""
        if self.reloader is not None:
            self.reloader.poll()
        view.frame, view.result, view.canvas, view.cell = frame, result, None, None
        view._drawn_at = time.monotonic()
        view.stats.shown()
        if view.video is not None:  # every frame drawn for the video; for the window only what is shown
            view.video.write(self._canvas(view))
        view.frames += 1
        if self.options.max_frames and view.frames >= self.options.max_frames:
            view.ended = view.capped = True

    def _canvas(self, view: View) -> np.ndarray:
        """``view``'s last frame with its result drawn on it (drawn once, when first needed)."""
        if view.canvas is None:
            frame = view.frame
            result = view.result or StepResult.empty(view.name, frame.index, frame.time_s)
            view.canvas = self._render(view, frame, result, view.notes)
        return view.canvas

    def _drawn_faces(self, view: View, frame: Frame, result: StepResult) -> Faces:
        """The faces of ``result`` to draw on ``frame``: none when a scene cut came between them,
        all marked stale when the result is older than ``stale_s`` (:func:`realtime.engine.core.drawn_faces`)."""
        return drawn_faces(result, frame, self.engine.stages[view.name].cuts, self.options.stale_s)

    def _render(self, view: View, frame: Frame, result: StepResult, extra: tuple = ()) -> np.ndarray:
        # in a window's grid, each frame is shrunk into its tile: its text is drawn larger by as much
        grid = self._mosaic is not None and self.window is not None
        overlay = self._mosaic.overlay_for(frame.image.shape) if grid else self.overlay
        stats = view.stats.lines() if self.options.show_stats else ()
        canvas = overlay.annotate(frame.image, self._drawn_faces(view, frame, result), stats)
        hint = self.options.hint if self.engine.recognizer is None else ""
        paused = "PAUSED (p: resume)" if self.paused else ""
        ended = "source ended" if view.ended and not view.camera.status else ""
        notes = [n for n in (hint, view.camera.status, self.events.status, paused, ended, *extra) if n]
        overlay.panel(canvas, notes, "bottom-left")
        return canvas

    def _picture(self) -> np.ndarray | None:
        """The window's picture: the one source's canvas, or a grid of titled tiles."""
        views = list(self.views.values())
        if self._mosaic is None:
            return self._canvas(views[0]) if views[0].frame is not None else None
        if all(v.frame is None for v in views):
            return None
        for v in views:
            if v.cell is None and v.frame is not None:
                v.cell = self._mosaic.cell(v.name, self._canvas(v))
        return self._mosaic.compose([v.cell for v in views])

    def _why_done(self) -> str:
        """Every source has ended: ``max-frames`` when any was stopped by it, else ``end``."""
        return "max-frames" if any(v.capped for v in self.views.values()) else "end"

    def _show(self, changed: bool) -> str | None:
        """Show the picture when it changed and read a key; returns why to stop, if so."""
        if all(v.ended for v in self.views.values()):
            return self._why_done()
        if self.window is None:
            return "signal" if self.stop.is_set() else None
        self._dirty = self._dirty or changed
        now = time.monotonic()
        due = self._dirty and (self._mosaic is None or now >= self._next_show)  # a grid at most at _SHOW_HZ
        if due:
            self._dirty, self._next_show = False, now + 1.0 / _SHOW_HZ
        picture = self._picture() if due else None
        key = self.window.show(picture) if picture is not None else self.window.wait(1)
        return self._key(key)

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
            self._redraw_all()
        elif key in KEY_SCREENSHOT:
            picture = self._picture()
            if picture is not None:
                self._save_screenshot(picture)
        return "signal" if self.stop.is_set() else None

    def _redraw_all(self, extra: tuple = ()) -> None:
        """Draw every source's last frame again (a note changed) and show the picture."""
        for view in self.views.values():
            view.notes, view.canvas, view.cell = extra, None, None
        picture = self._picture()
        if self.window is not None and picture is not None:
            self.window.show(picture)

    def _save_screenshot(self, canvas: np.ndarray) -> Path | None:
        """The ``s`` key: the window's picture as a PNG, owner-only as every file of faces."""
        folder = Path(self.options.screenshot_dir)
        path = folder / f"facecam-{datetime.now():%Y%m%d-%H%M%S-%f}.png"
        ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        if not ok:
            log.warning("cannot encode the screenshot %s", path)
            return None
        try:
            make_dirs_private(folder)
            write_private(path, png.tobytes(), overwrite=False, sync=False)
        except (OSError, StorageError) as exc:
            log.warning("cannot save a screenshot in %s: %s", folder, getattr(exc, "strerror", None) or exc)
            return None
        log.info("screenshot saved to %s", path)
        return path

    def _ended(self) -> None:
        """Every source has ended, with a window: one line says so. The last picture stays up until
        ``q``/``Esc`` with ``hold``, or when a source is not a file or folder; else the run is over."""
        files = {v.name: isinstance(v.camera.source, str) and not is_stream(v.camera.source)
                 for v in self.views.values()}
        hold = self.options.hold or not all(files.values())
        names = ", ".join(Path(v.camera.source).name if files[v.name] else v.name for v in self.views.values())
        self.say(f"{names} ended" + ("; press q to close" if hold else ""))
        if hold:
            self._hold()

    def _hold(self) -> None:
        """End of the sources with a window: keep the last picture up until ``q``/``Esc`` or close."""
        self._redraw_all(extra=("end of source: press q to quit",))
        while not self.stop.is_set():
            if self._key(self.window.wait(50)) == "quit":
                return
