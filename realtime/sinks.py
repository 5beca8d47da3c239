"""Where annotated frames go: a window (with keys) and a video file. Both take RGB frames.

OpenCV's GUI calls stay on the thread that created the window (the main thread).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from facecore.errors import FacecamError, UsageError

__all__ = ["Window", "VideoSink", "gui_backend", "require_gui", "KEY_QUIT", "KEY_PAUSE", "KEY_SNAPSHOT"]

log = logging.getLogger(__name__)

KEY_QUIT = (ord("q"), ord("Q"), 27)  # q, Esc
KEY_PAUSE = (ord("p"), ord("P"))
KEY_SNAPSHOT = (ord("s"), ord("S"))
_FOURCC = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v"}


def gui_backend() -> str:
    """The GUI toolkit OpenCV was built with (``QT5``, ``GTK3``, ...), ``""`` for none (headless wheels)."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            value = line.split(":", 1)[1].strip()
            return "" if value.upper() in ("", "NONE", "NO") else value
    return ""


def require_gui() -> None:
    """Raise ``UsageError`` when no window can be opened (no GUI in OpenCV, or no display)."""
    if not gui_backend():
        raise UsageError("this OpenCV has no GUI (opencv-python-headless?): use --headless or install opencv-python")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UsageError("no display to open a window on (DISPLAY is not set): use --headless")


class Window:
    """An OpenCV window showing RGB frames; ``show`` returns the key pressed (or -1)."""

    def __init__(self, name: str) -> None:
        require_gui()
        self.name = name
        cv2.namedWindow(name, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)

    def show(self, rgb: np.ndarray, wait_ms: int = 1) -> int:
        cv2.imshow(self.name, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        return self.wait(wait_ms)

    def wait(self, wait_ms: int = 1) -> int:
        key = cv2.waitKey(max(1, wait_ms))
        return -1 if key < 0 else key & 0xFF

    @property
    def closed(self) -> bool:
        """True once the user closed the window with the title bar's button."""
        try:
            return cv2.getWindowProperty(self.name, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)
        except cv2.error:
            pass


class VideoSink:
    """Write RGB frames to a video file at ``fps`` (a context manager); the size is the first frame's.

    Later frames of another size (a folder of photos) are resized to it.
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps if fps > 0 else 30.0
        self.frames = 0
        self._writer = None
        self._size: tuple[int, int] | None = None

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open(self, size: tuple[int, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*_FOURCC.get(self.path.suffix.lower(), "mp4v"))
        writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, size)
        if not writer.isOpened():
            raise FacecamError(f"cannot write the video {self.path} (try a .mp4 or .avi name)")
        self._writer, self._size = writer, size

    def write(self, rgb: np.ndarray) -> None:
        size = (rgb.shape[1], rgb.shape[0])
        if self._writer is None:
            self._open(size)
        if size != self._size:
            rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
