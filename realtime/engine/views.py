"""What the live loop is made of: its options, one :class:`View` per source, and the
:class:`Worker` thread that runs engine steps on the newest frame of each source."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from facecore.camera import Camera, Frame

from ..window.sinks import VideoSink
from .pipeline import StepResult
from .stats import Stats

__all__ = ["LoopOptions", "View", "Worker"]


@dataclass(frozen=True)
class LoopOptions:
    """``max_frames``: stop after this many frames of any source (0: no limit); ``hint``: a line
    kept on screen while no model is loaded; ``stale_s``: age in source seconds after which
    labels are drawn as stale; ``screenshot_dir``: where the ``s`` key saves the window's picture;
    ``hold``: once every source has ended, keep the window's last picture until ``q``/``Esc``
    (without it, a window on files and folders only closes when they end)."""

    max_frames: int = 0
    hint: str = ""
    stale_s: float = 1.0
    screenshot_dir: str = "."
    show_stats: bool = True
    hold: bool = False


@dataclass
class View:
    """One source as the loop sees it: its camera, its figures, its video, what it shows."""

    name: str
    camera: Camera
    video: VideoSink | None = None
    stats: Stats = field(default_factory=Stats)
    frames: int = 0  # frames shown (and written)
    frame: Frame | None = None  # the last frame shown
    result: StepResult | None = None  # ... the result drawn on it
    canvas: np.ndarray | None = None  # ... and the picture, drawn when it is needed (None: not yet)
    cell: np.ndarray | None = None  # the picture fitted into its cell of the window (several sources)
    notes: tuple = ()  # extra lines for the picture
    ended: bool = False
    capped: bool = False  # ended by --max-frames
    _drawn_at: float = 0.0


class Worker:
    """Runs ``process(frames)`` on a thread, always on the newest frame submitted per source."""

    def __init__(self, process: Callable[[dict[str, Frame]], dict[str, StepResult]]) -> None:
        self._process = process
        self._cond = threading.Condition()
        self._pending: dict[str, Frame] = {}
        self._stopping = False
        self.latest: dict[str, StepResult] = {}
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="facecam-recognition", daemon=True)

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def submit(self, source: str, frame: Frame) -> None:
        """Hand over ``frame`` of ``source``; an older frame of it not yet taken is dropped."""
        with self._cond:
            self._pending[source] = frame
            self._cond.notify()

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the step in progress (not the frames waiting) and end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                frames, self._pending = self._pending, {}
            try:
                self.latest = {**self.latest, **self._process(frames)}
            except BaseException as exc:  # handed to the main thread, which raises it
                self.error = exc
                return
