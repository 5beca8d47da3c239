"""``face-enroll capture``: a camera session -> good, varied face images of one person.

1. open the source (camera index, video file, stream URL or folder) as ``Camera``,
2. detect faces in each frame (headless: frames that are too soon after the last
   capture are not even looked at),
3. ask the :class:`~enroll.quality.Gate` whether the face is kept, and why not,
4. save kept faces as ``<data>/<name>/NNNN.jpg`` (and the frame, if asked), once the
   detector has found the face again in the very JPEG that training will read,
5. with a window: draw the box, the reason and the progress; ``space`` takes the
   current frame now (still gated), ``q``/``Esc`` stops and keeps what was taken.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facecore.camera import Camera, Frame
from facecore.config import Config
from facecore.errors import UsageError

from .people import discard_if_empty, finish_candidate, next_number, person_folder, save_face, seed_gate
from .quality import Gate, Verdict

__all__ = ["capture_person", "CaptureResult", "Window", "WINDOW_TITLE", "check_display"]

log = logging.getLogger(__name__)
WINDOW_TITLE = "face-enroll capture"
_WAITING = "waiting between captures"
_KEY_QUIT, _KEY_ESC, _KEY_SPACE = ord("q"), 27, 32
_GREEN, _AMBER, _RED, _WHITE, _BLACK = (0, 200, 0), (0, 190, 255), (0, 0, 230), (255, 255, 255), (0, 0, 0)


@dataclass
class CaptureResult:
    """What a session did: ``saved`` paths, frames seen, rejections counted by reason."""

    wanted: int
    saved: list = field(default_factory=list)
    frames: int = 0
    rejected: Counter = field(default_factory=Counter)
    stopped: bool = False  # the person pressed q/Esc or closed the window

    @property
    def complete(self) -> bool:
        return len(self.saved) >= self.wanted


class Window:
    """The capture window (BGR drawing on a copy of the frame); ``show`` returns the key action."""

    def __init__(self, name: str, max_side: int = 960) -> None:
        self.name, self.max_side = name, max_side
        cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)

    def close(self) -> None:
        cv2.destroyWindow(WINDOW_TITLE)
        cv2.waitKey(1)

    def draw(self, image: np.ndarray, verdict: Verdict, done: int, wanted: int) -> np.ndarray:
        """The frame, scaled to fit, with the face box, progress and the current reason (BGR)."""
        scale = min(1.0, self.max_side / max(image.shape[:2]))
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if scale < 1.0:
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        colour = _GREEN if verdict.ok else _AMBER if verdict.reason == _WAITING else _RED
        if verdict.faces is not None:
            for box in verdict.faces.boxes * scale:
                cv2.rectangle(bgr, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), colour, 2)
        message = "captured" if verdict.ok else verdict.reason
        _label(bgr, f"{self.name}  {done}/{wanted}", (10, 10), 1.0, _WHITE)
        _label(bgr, message, (10, 50), 0.8, colour)
        _label(bgr, "space: capture   q/Esc: stop", (10, bgr.shape[0] - 34), 0.6, _WHITE)
        return bgr

    def show(self, bgr: np.ndarray) -> str:
        """Show ``bgr``; returns ``"quit"``, ``"capture"`` or ``""``."""
        cv2.imshow(WINDOW_TITLE, bgr)
        key = cv2.waitKey(1) & 0xFF
        if key in (_KEY_QUIT, _KEY_ESC) or cv2.getWindowProperty(WINDOW_TITLE, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return "capture" if key == _KEY_SPACE else ""


def check_display() -> None:
    """Raise ``UsageError`` when no window can be opened: OpenCV's Qt aborts the process instead."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UsageError("no display to show the capture window on (DISPLAY is not set): use --headless")


def _label(bgr: np.ndarray, text: str, origin: tuple, scale: float, colour: tuple) -> None:
    """Text on a dark box, readable on any background."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, h), base = cv2.getTextSize(text, font, scale, 2)
    x, y = origin
    cv2.rectangle(bgr, (x - 4, y - 4), (x + w + 4, y + h + base + 4), _BLACK, -1)
    cv2.putText(bgr, text, (x, y + h), font, scale, colour, 2, cv2.LINE_AA)


class _Session:
    """One capture session's state: the gate, the folder, the numbering, the counts."""

    def __init__(self, config: Config, folder: Path, detector, count: int, keep_frames: bool) -> None:
        self.config, self.folder, self.detector, self.keep_frames = config, folder, detector, keep_frames
        self.gate = Gate(config.capture, count=count)
        seed_gate(self.gate, folder, detector)
        self.number = next_number(folder)
        self.result = CaptureResult(count)
        self._last_log = time.monotonic()

    def step(self, frame: Frame, look: bool, manual: bool) -> Verdict:
        """Judge one frame (``look=False``: too soon, not even detected); save it when kept."""
        self.result.frames += 1
        if not look:
            verdict = Verdict(False, _WAITING)
        else:
            verdict = self.gate.check(frame.image, self.detector.detect(frame.image), frame.time_s, manual)
            verdict, jpeg = finish_candidate(self.gate, verdict, frame.image, self.detector, self.config.capture)
        if verdict.ok:
            self._keep(frame, verdict, jpeg)
            return verdict
        self.result.rejected[verdict.reason] += 1
        self._log_waiting(frame, verdict)
        return verdict

    def _keep(self, frame: Frame, verdict: Verdict, jpeg: bytes) -> None:
        path = save_face(self.folder, self.number, jpeg, frame.image if self.keep_frames else None)
        self.gate.accept(verdict, frame.time_s)
        self.number += 1
        self.result.saved.append(path)
        log.info("captured %d/%d: %s (frame %d, %s)", len(self.result.saved), self.result.wanted,
                 path.name, frame.index, verdict.pose)

    def _log_waiting(self, frame: Frame, verdict: Verdict) -> None:
        now = time.monotonic()
        if now - self._last_log >= 2.0:
            self._last_log = now
            log.info("frame %d: %d/%d, rejecting: %s", frame.index, len(self.result.saved),
                     self.result.wanted, verdict.reason)


def capture_person(config: Config, name: str, source: str | int, data: str | Path, detector,
                   count: int | None = None, headless: bool = False, keep_frames: bool = False) -> CaptureResult:
    """Run a capture session for ``name`` from ``source`` into ``data/name/``.

    Stops when ``count`` images (default ``capture.count``) are kept, when the
    source ends, or when the person quits the window. Raises ``UsageError`` for a
    bad name, or a window without a display, before anything is opened or written.
    """
    folder = person_folder(data, name)
    name = folder.name  # as the folder has it: NFC, or an existing folder's own form
    if not headless:
        check_display()
    existed = folder.is_dir()
    count = count or config.capture.count
    with Camera(source, config.camera) as camera:
        person_folder(data, name, create=True)
        session = _Session(config, folder, detector, count, keep_frames)
        window = None if headless else Window(name)
        try:
            _loop(camera, session, window)
        finally:
            if window is not None:
                window.close()
            if not session.result.saved and not existed:
                discard_if_empty(folder)
    return session.result


def _show_status(window: Window, frame: Frame, status: str, result: CaptureResult) -> str:
    return window.show(window.draw(frame.image, Verdict(False, status), len(result.saved), result.wanted))


def _loop(camera: Camera, session: _Session, window: Window | None) -> None:
    manual, last = False, -1
    for frame in camera:
        if frame.index == last:  # the source is reconnecting: say so, judge nothing
            if window is not None and _show_status(window, frame, camera.status, session.result) == "quit":
                session.result.stopped = True
                return
            continue
        last = frame.index
        look = window is not None or manual or not session.gate.too_soon(frame.time_s)
        verdict = session.step(frame, look, manual)
        manual = False
        if window is not None:
            action = window.show(window.draw(frame.image, verdict, len(session.result.saved), session.result.wanted))
            session.result.stopped = action == "quit"
            manual = action == "capture"
        if session.result.complete or session.result.stopped:
            return
