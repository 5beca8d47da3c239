"""face-live's first seconds: the window first, the models behind it.

Building the models costs seconds: TensorFlow's import, MTCNN's graphs, the backbone's
weights and its compiled graph. :class:`ModelLoader` builds them on a thread, timing each
part, while the main thread shows the sources' frames with "loading models..." on them
(:class:`LoadingScreen`, whose first picture is up before the build starts: TensorFlow's
import then holds the interpreter for long stretches); a headless run waits instead. Either
way one line says when the models are ready, and how long each part took.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

import numpy as np

from facecore.camera import Frame

from .overlay import Mosaic, Overlay
from .sinks import KEY_QUIT, Window

__all__ = ["ModelLoader", "LoadingScreen", "LOADING"]

T = TypeVar("T")
LOADING = "loading models..."
_SHOW_HZ = 15.0  # the waiting picture is shown this often


class ModelLoader(Generic[T]):
    """Runs ``build(mark)`` on a thread; ``build`` calls ``mark(part)`` after each part, and
    ``parts`` holds the seconds each took, in order. ``result()`` waits and returns what
    ``build`` returned, or raises what it raised."""

    def __init__(self, build: Callable[[Callable[[str], None]], T]) -> None:
        self._build = build
        self.parts: dict[str, float] = {}
        self.seconds = 0.0  # from start() to the end of the build
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._start = self._last = 0.0
        self._thread = threading.Thread(target=self._run, name="facecam-models", daemon=True)

    def start(self) -> "ModelLoader[T]":
        self._start = self._last = time.perf_counter()
        self._thread.start()
        return self

    def mark(self, part: str) -> None:
        """``part`` has just been built: note its seconds (a repeated part adds up)."""
        now = time.perf_counter()
        self.parts[part] = round(self.parts.get(part, 0.0) + now - self._last, 3)
        self._last = now

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result

    def summary(self) -> str:
        """``ready in 4.21 s (tensorflow 2.31 s, detector 0.85 s, ...)``."""
        parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.parts.items())
        return f"ready in {self.seconds:.2f} s" + (f" ({parts})" if parts else "")

    def _run(self) -> None:
        try:
            self._result = self._build(self.mark)
        except BaseException as exc:  # handed to the thread that asks for the result
            self._error = exc
        finally:
            self.seconds = time.perf_counter() - self._start
            self._done.set()


class LoadingScreen:
    """The window while the models load: each source's newest frame (a file's first) with
    ``LOADING`` on it, one titled tile per source when there are several."""

    def __init__(self, window: Window, overlay: Overlay, sources: int) -> None:
        self.window, self.overlay = window, overlay
        self.mosaic = Mosaic(sources, overlay) if sources > 1 else None

    def show(self, frames: dict[str, Frame | None]) -> int:
        """Show the picture of ``frames``; returns the key pressed (-1: none)."""
        picture = self._picture(frames)
        return self.window.show(picture) if picture is not None else self.window.wait(1)

    def until_ready(self, loader: ModelLoader, frames: Callable[[], dict[str, Frame | None]],
                    stop: threading.Event) -> str | None:
        """Show ``frames()`` until ``loader`` is done. Returns ``quit`` (``q``/``Esc``/window
        closed) or ``signal`` when the run is to end before the models are there, else ``None``."""
        while not loader.wait(1.0 / _SHOW_HZ):
            if stop.is_set():
                return "signal"
            if self.show(frames()) in KEY_QUIT or self.window.closed:
                return "quit"
        return "signal" if stop.is_set() else None

    def _picture(self, frames: dict[str, Frame | None]) -> np.ndarray | None:
        canvases = {name: None if frame is None else self.overlay.panel(frame.image.copy(), [LOADING], "bottom-left")
                    for name, frame in frames.items()}
        if self.mosaic is None:
            return next(iter(canvases.values()), None)
        if all(c is None for c in canvases.values()):
            return None
        return self.mosaic.compose([self.mosaic.cell(name, canvas) for name, canvas in canvases.items()])
