"""Frame sources: a camera index, a video file, a stream URL or a folder of images.

``Camera`` is an iterator and a context manager that always releases the device.
Frames come out as RGB uint8 (converted from OpenCV's BGR once, here). Live
sources (cameras, streams, or a file with ``pace``) are read by a thread that
keeps only the newest frame, so a slow consumer never sees growing lag; files
and folders give every frame, in order; a file that ends well before the frame count it
declares (a truncated file) is logged as a warning. A stream that serves a recording (a video
file over HTTP: it declares a frame count, or its path ends in ``.mp4`` and the like) is played
at its own rate and ends when it has been read to its end. A live camera or stream that drops is
reopened with exponential backoff (``camera.reconnect_attempts``,
``camera.reconnect_backoff_s``); meanwhile ``status`` says so, it is logged, and the
last frame is given again every half second (same ``index``) so that a display
stays responsive and can show the status. Messages show a URL with its credentials masked
(:func:`facecore.urls.mask_url`); the real URL is only opened.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from .config import CameraConfig
from .errors import ImageError, SourceError, UsageError
from .images import list_images, read_image
from .source_names import EMPTY_SOURCE, NAME_RULE, SourceSpec, named_sources
from .urls import mask_url

__all__ = ["Camera", "Frame", "parse_source", "opencv_quiet", "first_frame", "is_stream", "SourceSpec",
           "named_sources", "cannot_open_camera", "cannot_open", "NAME_RULE", "FILE_SUFFIXES"]

log = logging.getLogger(__name__)
SHORT_SLACK = 5  # frames a file may end before its declared count without a warning (or 2 %, if more)
_RECORDING_SCHEMES = ("http://", "https://", "ftp://", "file://")  # where a stream may be a video file
FILE_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv")


@dataclass(frozen=True)
class Frame:
    """``image``: ``(h, w, 3)`` uint8 RGB; ``index``: position in the source (gaps where frames
    were dropped); ``time_s``: source time in seconds (frame index / fps for files)."""

    index: int
    image: np.ndarray
    time_s: float


def parse_source(source: str | int) -> int | str:
    """``"0"`` -> camera 0; anything else stays a path or URL."""
    if isinstance(source, int):
        return source
    text = str(source).strip()
    return int(text) if text.isdigit() else text


@contextmanager
def opencv_quiet() -> Iterator[None]:
    """OpenCV's own log silenced meanwhile: a failure it would print is facecam's one-line error."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def is_stream(source: int | str) -> bool:
    """A camera index or a stream URL (``rtsp://``, ``http://``, any ``scheme://``): a live source
    that is read as it comes and reconnected when it drops; not a file or a folder."""
    source = parse_source(source)
    return isinstance(source, int) or "://" in source


def _video_devices(dev: Path = Path("/dev")) -> list[str] | None:
    """The video device files in ``dev`` (``/dev/video0`` is camera 0), in index order; ``None``
    where the system names no cameras that way (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    found = [p for p in dev.glob("video*") if p.name[5:].isdigit()]
    return [str(p) for p in sorted(found, key=lambda p: int(p.name[5:]))]


def cannot_open_camera(index: int, dev: Path = Path("/dev")) -> str:
    """One line for a camera index that cannot be opened: the video devices there are (or that
    there are none), and how to read a file, stream or folder instead."""
    devices = _video_devices(dev)
    if devices is None:
        there = ""
    elif devices:
        there = f"; video devices here: {', '.join(devices)}"
    else:
        there = "; this machine has no video devices (/dev/video*)"
    return (f"cannot open camera {index}{there}; to read a file, stream or folder instead: "
            f"--source clip.mp4, --source rtsp://HOST/PATH or --source photos/")


def cannot_open(source: str | int) -> str:
    """One line for a source that cannot be opened, saying what to check."""
    if isinstance(source, int):
        return cannot_open_camera(source)
    if is_stream(source):
        return (f"cannot open {mask_url(source)}: no video stream answered there; check the address, the port, "
                f"the user and password in the URL, and that the camera can be reached from this machine")
    return f"cannot open {mask_url(source)}: not a video file that OpenCV can read (damaged, or not a video)"


class Camera:
    """Iterate over :class:`Frame` objects from ``source``.

    ``opener`` (for tests of faults) replaces ``cv2.VideoCapture``. ``label`` is the source as it
    is shown in messages (a URL's credentials masked); ``source`` is only opened, never shown.
    """

    def __init__(self, source: str | int, config: CameraConfig | None = None,
                 opener: Callable[[int | str], object] | None = None) -> None:
        self.config = config or CameraConfig()
        self.source = parse_source(source)
        if self.source == "":
            raise UsageError(EMPTY_SOURCE)
        self.label = mask_url(self.source)
        self._opener = opener or cv2.VideoCapture
        self._cap = None
        self._folder: list[Path] | None = None
        self._thread: threading.Thread | None = None
        self._latest: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ended = False
        self.fps = 0.0
        self.status = ""  # e.g. "reconnecting (2/5)"; shown by the overlay
        self.live = is_stream(self.source) or self.config.pace
        self.recorded = False  # once open: a file, or a stream serving a recording (see _recorded)

    # -- opening -----------------------------------------------------------------------
    def open(self) -> "Camera":
        if isinstance(self.source, str) and Path(self.source).is_dir():
            self._folder = list_images(self.source)
            if not self._folder:
                raise SourceError(f"no images in folder {self.label}")
            self.fps, self.live = 30.0, False
            return self
        if isinstance(self.source, str) and not is_stream(self.source) and not Path(self.source).exists():
            raise SourceError(f"video file not found: {self.label}")
        self._cap = self._open_capture()
        if self._cap is None:
            raise SourceError(cannot_open(self.source))
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self.recorded = self._recorded()
        if self.live:
            self._thread = threading.Thread(target=self._reader, name="camera-reader", daemon=True)
            self._thread.start()
        return self

    def _open_capture(self):
        with opencv_quiet():
            cap = self._opener(self.source)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return None
        if self.config.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
        if self.config.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        return cap

    def newest(self) -> Frame | None:
        """Live sources: the newest frame read so far (``None`` before the first); never waits."""
        with self._cond:
            return self._latest

    @property
    def finished(self) -> bool:
        """Live sources: the reader has stopped (the file ended, or the source was lost)."""
        return self._ended

    def __enter__(self) -> "Camera":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    # -- reading -----------------------------------------------------------------------
    def _read_one(self, index: int) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok or bgr is None or bgr.size == 0:
            return None
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return Frame(index, rgb, index / self.fps)

    def _reconnect(self) -> bool:
        """Reopen a dropped live source with exponential backoff; False when out of attempts."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        wait = self.config.reconnect_backoff_s
        for attempt in range(1, self.config.reconnect_attempts + 1):
            self.status = f"source lost, reconnecting ({attempt}/{self.config.reconnect_attempts})"
            log.warning("%s: %s", self.label, self.status)
            if self._stop.wait(wait):
                return False
            self._cap = self._open_capture()
            if self._cap is not None:
                self.status = ""
                log.info("%s: reconnected", self.label)
                return True
            wait *= 2
        self.status = "source lost"
        return False

    def _recorded(self) -> bool:
        """A file, or a stream that serves a recording (a video file over HTTP, HTTPS, FTP or a
        ``file://`` URL): it declares a frame count, or its URL's path ends in a video file's
        extension. It is played at its own rate, and it ends where it ends. Cameras and RTSP, RTMP
        or UDP streams are always live."""
        if not is_stream(self.source):
            return True
        if isinstance(self.source, int) or not self.source.lower().startswith(_RECORDING_SCHEMES):
            return False
        path = self.source.split("?", 1)[0].split("#", 1)[0].lower()
        return int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) > 0 or path.endswith(FILE_SUFFIXES)

    def _read_to_end(self, read: int) -> bool:
        """A recording that gave no frame after ``read`` frames has ended (not dropped): it declares
        no count, or ``read`` reached it (within the slack of a truncated file's warning)."""
        declared = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        return declared <= 0 or read >= declared - max(SHORT_SLACK, declared // 50)

    def _reader(self) -> None:
        """Live sources: keep only the newest frame (paced recordings sleep to their frame rate)."""
        index, start = 0, time.monotonic()
        is_file, recorded = not is_stream(self.source), self.recorded
        while not self._stop.is_set():
            frame = self._read_one(index)
            if frame is None:
                if is_file or (recorded and self._read_to_end(index)):
                    self._warn_if_short(index)
                    break
                if not self._reconnect():
                    break
                continue
            if recorded:
                delay = start + index / self.fps - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
            with self._cond:
                self._latest = frame
                self._cond.notify_all()
            index += 1
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _live_frames(self) -> Iterator[Frame]:
        last = -1
        while True:
            with self._cond:
                if not self._ended and (self._latest is None or self._latest.index == last):
                    self._cond.wait(timeout=0.5)
                frame, ended = self._latest, self._ended
            if self._stop.is_set() or (ended and (frame is None or frame.index == last)):
                return
            if frame is not None and frame.index != last:
                last = frame.index
                yield frame
            elif frame is not None and self.status:
                yield frame  # reconnecting: the same frame again, so the display can say so

    def _file_frames(self) -> Iterator[Frame]:
        index = 0
        while not self._stop.is_set():
            frame = self._read_one(index)
            if frame is None:  # end of file, or a corrupt tail: stop at the last good frame
                self._warn_if_short(index)
                return
            yield frame
            index += 1

    def _warn_if_short(self, read: int) -> None:
        """A file that ended ``read`` frames in, well before the count it declares: say so (truncated)."""
        declared = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if declared > 0 and read < declared - max(SHORT_SLACK, declared // 50):
            log.warning("%s ended after %d of the %d frames it declares: the file is truncated or damaged",
                        self.label, read, declared)

    def _folder_frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self._folder or []):
            if self._stop.is_set():
                return
            try:
                image = read_image(path)
            except ImageError as exc:
                log.warning("skipping %s", exc)
                continue
            yield Frame(index, image, index / self.fps)

    def __iter__(self) -> Iterator[Frame]:
        if self._folder is None and self._cap is None and self._thread is None:
            raise SourceError("Camera is not open: use it as a context manager")
        if self._folder is not None:
            return self._folder_frames()
        return self._live_frames() if self.live else self._file_frames()


def first_frame(source: str | int, config: CameraConfig | None = None,
                opener: Callable[[int | str], object] | None = None) -> Frame:
    """Open ``source``, read its first frame and close it again (a paced file is read unpaced);
    ``SourceError`` when it cannot be opened or gives no frame."""
    with Camera(source, replace(config or CameraConfig(), pace=False), opener) as camera:
        frame = next(iter(camera), None)
    if frame is None:
        raise SourceError(f"no frame can be read from {mask_url(source)}")
    return frame
