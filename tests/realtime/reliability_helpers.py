"""Small pieces for the reliability tests, importable by the real processes they start
(numpy, OpenCV and facecam only: no pytest, no TensorFlow)."""

from __future__ import annotations

import time

import cv2
import numpy as np

from facecore.faces import Faces
from realtime.engine.pipeline import StepResult


def snap(name: str, track: int, frame: int, source: str = "cam") -> StepResult:
    """One fresh face named ``name`` on track ``track``, at ``frame`` of a 30 fps ``source``."""
    faces = Faces(np.array([[10, 20, 60, 90]], np.float32), names=[name], confidences=np.array([0.8]),
                  track_ids=[track]).with_data(carried=False, fresh=True, source=source)
    return StepResult(source, frame, frame / 30, faces)


class DroppingCamera:
    """Stands in for ``cv2.VideoCapture(0)`` (no webcam here): a real clip served at 30 fps.
    ``plan`` says, per open, how many frames it gives before it drops (``None``: it fails to open).
    Every capture opened is kept in ``opened``, to check that all were released."""

    def __init__(self, clip, plan: list, at_frame: tuple = (0, None)):
        self.clip, self.plan, self.opened, self.at_frame = clip, list(plan), [], at_frame

    def __call__(self, source):
        frames = self.plan.pop(0) if self.plan else None
        capture = _Capture(self.clip, frames, self.at_frame)
        self.opened.append(capture)
        return capture


class _Capture:
    def __init__(self, clip, frames, at_frame):
        self._cap = cv2.VideoCapture(str(clip)) if frames is not None else None
        self.left, self.released, self._next = frames, False, time.monotonic()
        self.read_count, (self._when, self._then) = 0, at_frame

    def isOpened(self):
        return self._cap is not None

    def read(self):
        time.sleep(max(0.0, self._next - time.monotonic()))
        self._next += 1 / 30
        self.left -= 1
        self.read_count += 1
        if self._then is not None and self.read_count == self._when:
            self._then()
        return self._cap.read() if self.left >= 0 else (False, None)

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, prop, value):
        return True

    def release(self):
        self.released = True
        if self._cap is not None:
            self._cap.release()
