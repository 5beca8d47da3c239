"""The loop with a camera index as source. No camera here: its frames come from a real clip
through a stand-in capture (the tests' names say "mocked camera")."""

from __future__ import annotations

import threading
import time

import cv2
import pytest

from facecore.camera import Camera
from facecore.config import CameraConfig, Config, LogConfig
from facecore.errors import SourceError
from helpers import VIDEOS, need
from facecore.csvlog import CsvLog
from realtime.events.records import EventLog
from realtime.engine.step import Engine
from realtime.engine.local import LiveLoop, LoopOptions, View
from realtime.window.overlay import Overlay
from realtime.engine.pipeline import SourceStage


class ClipAsCamera:
    """A ``cv2.VideoCapture`` stand-in: a real clip served at 30 fps like a webcam, which
    drops (stops delivering) after ``fail_after`` frames; reopening it fails."""

    opened = 0

    def __init__(self, clip, fail_after: int):
        ClipAsCamera.opened += 1
        self._cap = cv2.VideoCapture(str(clip)) if ClipAsCamera.opened == 1 else None
        self._left = fail_after
        self._next = time.monotonic()

    def isOpened(self):
        return self._cap is not None

    def read(self):
        time.sleep(max(0.0, self._next - time.monotonic()))
        self._next += 1 / 30
        self._left -= 1
        return self._cap.read() if self._left >= 0 else (False, None)

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, prop, value):
        return True

    def release(self):
        if self._cap is not None:
            self._cap.release()


def test_mocked_camera_runs_live_and_a_lost_camera_is_an_error(tmp_path, detector):
    clip = need(VIDEOS / "obama-biden" / "obama.mp4")
    ClipAsCamera.opened = 0
    config = Config()
    camera = Camera(0, CameraConfig(reconnect_attempts=1, reconnect_backoff_s=0.01),
                    opener=lambda source: ClipAsCamera(clip, fail_after=45))
    engine = Engine([SourceStage("0", config, detector, recognizing=False)], detector, None)
    engine.warm_up()
    with camera, CsvLog(tmp_path / "log.csv") as csv_log:
        assert camera.live
        events = EventLog(csv_log, LogConfig())
        loop = LiveLoop([View("0", camera)], engine, events, Overlay(config.overlay), LoopOptions(),
                        threading.Event())
        with pytest.raises(SourceError, match="source lost"):
            loop.run()
    report = loop.report
    assert 0 < report.steps <= report.frames <= 45
    assert report.rows == 1  # the one face, logged as unknown once
    assert ClipAsCamera.opened == 2  # one reconnection was tried
