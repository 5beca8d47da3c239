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

from facecore.camera import opencv_quiet
from facecore.errors import FacecamError, UsageError
from facecore.files import check_output

__all__ = ["Window", "VideoSink", "check_video_path", "gui_backend", "require_gui",
           "VIDEO_SUFFIXES", "RESERVE_BYTES", "KEY_QUIT", "KEY_PAUSE", "KEY_SCREENSHOT"]

log = logging.getLogger(__name__)

KEY_QUIT = (ord("q"), ord("Q"), 27)  # q, Esc
KEY_PAUSE = (ord("p"), ord("P"))
KEY_SCREENSHOT = (ord("s"), ord("S"))
_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v"}
VIDEO_SUFFIXES = tuple(_FOURCC)
RESERVE_BYTES = 1 << 20  # a video stops when its disk has less room: enough to finish the file


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


def _free_bytes(folder: str | os.PathLike) -> int:
    """Bytes this process may still write on ``folder``'s filesystem (root may use the reserved blocks);
    ``sys.maxsize`` when the filesystem does not say (the check at close still applies)."""
    try:
        stat = os.statvfs(folder)
    except OSError:
        return sys.maxsize
    blocks = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail
    return blocks * stat.f_frsize


def check_video_path(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` once it can take a video, its folder created; else ``UsageError``
    (not a video name; a folder, device or FIFO: :func:`facecore.files.check_output`) or
    ``FacecamError`` (folder not creatable or writable, disk full). A link is written through."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"--output {path}: expected a video file name ending in {', '.join(VIDEO_SUFFIXES)}")
    _check_space(check_output(path, "--output", "the video", "annotated.mp4"), frames=0)  # the target's disk
    return path


def _check_space(path: Path, frames: int) -> None:
    """``FacecamError`` when ``path``'s disk has less than ``RESERVE_BYTES`` free (``frames``: written so far)."""
    left = _free_bytes(path.parent)
    if left < RESERVE_BYTES:
        ends = f"; the video ends at frame {frames}" if frames else ""
        raise FacecamError(f"cannot write the video {path}: its disk is full "
                           f"({left // 1024} KiB free, {RESERVE_BYTES // 1024} KiB needed){ends}")


def _make_private_file(path: Path) -> None:
    """Create ``path`` owner-only (0600) before OpenCV's writer opens it (which keeps the mode of a
    file that is there); an existing file of ours is made owner-only too."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        if path.is_file() and path.stat().st_uid == os.geteuid():
            os.chmod(path, 0o600)
    except OSError as exc:
        raise FacecamError(f"cannot write the video {path}: {exc.strerror or exc}") from None


class VideoSink:
    """Write RGB frames to a video file at ``fps`` (a context manager); the size is the first frame's.

    Later frames of another size (a folder of photos) are resized to it. OpenCV's writer
    reports no failure, so the free space of the file's disk is checked after every frame:
    under ``RESERVE_BYTES`` the file is closed at once (playable up to there) and
    ``FacecamError`` is raised. ``close()`` raises it too when the file it leaves cannot be
    read back (a quota, a file size limit, the file removed).
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps if fps > 0 else 30.0
        self.frames = 0
        self._writer = None
        self._size: tuple[int, int] | None = None

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(check=exc_type is None)  # a failure already on its way is the one to report

    def _open(self, size: tuple[int, int]) -> None:
        check_video_path(self.path)
        _make_private_file(self.path)
        fourcc = cv2.VideoWriter_fourcc(*_FOURCC[self.path.suffix.lower()])
        with opencv_quiet():
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
        with opencv_quiet():  # it would print a warning per frame it fails to write
            self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1
        try:
            _check_space(self.path, self.frames)
        except FacecamError:
            self.close(check=False)  # the reserve holds what the end of the file needs
            raise

    def close(self, check: bool = True) -> None:
        """Finish the file; with ``check``, ``FacecamError`` when it cannot be read back."""
        if self._writer is None:
            return
        with opencv_quiet():
            self._writer.release()
        self._writer = None
        if check:
            self._check_readable()

    def _check_readable(self) -> None:
        """``FacecamError`` unless the file reads back with the frames written (a frame of slack:
        some containers count from their duration)."""
        with opencv_quiet():
            capture = cv2.VideoCapture(str(self.path))
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
            capture.release()
        if abs(count - self.frames) > max(1, self.frames // 100):
            raise FacecamError(f"the video {self.path} was not written whole: it reads back as {max(count, 0)} "
                               f"frames of the {self.frames} written (disk full, or a file size limit?)")
