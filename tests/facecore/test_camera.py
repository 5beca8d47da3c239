"""Camera: real video files and folders; faults injected at the capture boundary where no
real camera can be unplugged here."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from facecore.camera import Camera, cannot_open_camera, parse_source
from facecore.config import CameraConfig
from facecore.errors import SourceError
from helpers import DATA, VIDEOS, need, write_clip

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"


def test_video_file_gives_every_frame_in_order_as_rgb():
    with Camera(str(need(OBAMA))) as cam:
        frames = list(cam)
    assert len(frames) == 153 and [f.index for f in frames] == list(range(153))
    assert frames[0].image.shape == (480, 854, 3) and frames[0].image.dtype == np.uint8
    assert abs(frames[30].time_s - 30 / cam.fps) < 1e-9


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_paced_file_behaves_like_a_camera_and_drops_stale_frames(tmp_path):
    clip = write_clip(need(OBAMA), tmp_path / "obama-2s.mp4", frames=60)  # 2 s at the clip's 29.97 fps
    with Camera(str(clip), CameraConfig(pace=True)) as cam:
        seen = []
        for frame in cam:
            seen.append(frame.index)
            time.sleep(0.1)  # a consumer slower than 30 fps
    assert len(seen) < 40 and seen == sorted(seen) and seen[-1] >= 47  # read to its end, as before (140 of 153)


def test_folder_skips_corrupt_images(tmp_path):
    src = need(DATA / "lfw-dev" / "Abdullah_Gul")
    for i, p in enumerate(sorted(src.glob("*.jpg"))[:3]):
        (tmp_path / f"{i}.jpg").write_bytes(p.read_bytes())
    (tmp_path / "1b.jpg").write_bytes(b"broken")
    with Camera(str(tmp_path)) as cam:
        assert [f.image.shape for f in cam] == [(150, 150, 3)] * 3


def test_truncated_video_stops_cleanly_at_the_last_good_frame(tmp_path):
    data = need(OBAMA).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with Camera(str(cut)) as cam:
        frames = list(cam)
    assert 0 < len(frames) < 153


def test_missing_sources_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        Camera(str(tmp_path / "none.mp4")).open()
    with pytest.raises(SourceError, match="no images"):
        Camera(str(tmp_path)).open()
    with pytest.raises(SourceError, match="cannot open camera 9"):
        Camera("9").open()
    assert parse_source("0") == 0 and parse_source("rtsp://x/y") == "rtsp://x/y"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="video devices are /dev/video* on Linux only")
def test_a_camera_that_cannot_be_opened_lists_the_video_devices_of_a_stand_in_dev_folder(tmp_path):
    """The devices are read from a folder given in place of /dev (this machine has none): in index
    order, other files left out."""
    for name in ("video10", "video2", "video0", "media0", "videoX"):
        (tmp_path / name).touch()
    assert cannot_open_camera(3, tmp_path) == (
        f"cannot open camera 3; video devices here: {tmp_path}/video0, {tmp_path}/video2, {tmp_path}/video10; "
        "to read a file, stream or folder instead: --source clip.mp4, --source rtsp://HOST/PATH or --source photos/")


class FlakyCapture:
    """Stands in for cv2.VideoCapture of a webcam (none here): gives frames, then fails."""

    opened = 0

    def __init__(self, frames_before_failure: int):
        FlakyCapture.opened += 1
        self.left = frames_before_failure

    def isOpened(self):
        return True

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        time.sleep(0.005)
        return True, np.full((48, 64, 3), 100, np.uint8)

    def get(self, prop):
        return 30.0

    def set(self, prop, value):
        return True

    def release(self):
        pass


def test_unplugged_camera_reconnects_with_backoff_mocked_camera():
    class Unplugged(FlakyCapture):
        def isOpened(self):
            return FlakyCapture.opened <= 2  # plugged back in once, then gone for good

    FlakyCapture.opened = 0
    config = CameraConfig(reconnect_attempts=3, reconnect_backoff_s=0.01)
    cam = Camera(0, config, opener=lambda src: Unplugged(5))
    start = time.monotonic()
    with cam:
        frames = list(cam)
    assert FlakyCapture.opened == 2 + 3  # open, one successful reconnection, three failed tries
    assert 2 <= len(frames) <= 10 and cam.status == "source lost"
    assert time.monotonic() - start >= 0.01 + 0.02 + 0.04  # the waits doubled


def test_camera_that_never_comes_back_mocked_camera():
    class Dead(FlakyCapture):
        def isOpened(self):
            return FlakyCapture.opened == 1

    FlakyCapture.opened = 0
    cam = Camera(0, CameraConfig(reconnect_attempts=2, reconnect_backoff_s=0.01), opener=lambda s: Dead(3))
    with cam:
        frames = list(cam)
    assert 1 <= len(frames) <= 3 and cam.status == "source lost"


def test_an_rtsp_stream_that_drops_is_reconnected_whatever_it_declares_mocked_camera():
    """The fake declares 30 frames (every property reads 30) and its path ends in .mp4: an RTSP
    stream is live all the same, so ending early is a drop, not the end."""
    class Dead(FlakyCapture):
        def isOpened(self):
            return FlakyCapture.opened == 1

    FlakyCapture.opened = 0
    config = CameraConfig(reconnect_attempts=2, reconnect_backoff_s=0.01)
    with Camera("rtsp://cam/clip.mp4", config, opener=lambda s: Dead(30)) as cam:
        frames = list(cam)
    assert not cam.recorded and len(frames) >= 1 and cam.status == "source lost" and FlakyCapture.opened == 3


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_a_video_file_served_over_http_ends_at_its_end_and_is_not_reconnected(caplog):
    """A real clip from a local HTTP server (a stream URL, read live): it is played at its own rate
    and ends once read to its end, with no reconnection and no status; today it would be
    reopened and replayed as a dropped camera."""
    import logging

    from http_clips import serve_folder

    config = CameraConfig(reconnect_attempts=3, reconnect_backoff_s=0.01)
    with serve_folder(need(OBAMA).parent) as address, caplog.at_level(logging.INFO, logger="facecore.camera"):
        start, seen = time.monotonic(), []
        with Camera(f"http://{address}/{OBAMA.name}", config) as cam:
            assert cam.live
            for frame in cam:
                seen.append(frame.index)
                if time.monotonic() - start > 20 or len(seen) > 400:
                    break
            status, finished = cam.status, cam.finished
        took = time.monotonic() - start
    assert finished and status == "" and len(seen) <= 153 and seen[-1] >= 140, (len(seen), seen[-5:], status)
    assert took > 4.0  # 153 frames at 29.97 fps: played at its own rate, not as fast as it downloads
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_a_stream_source_is_shown_with_its_password_masked():
    """Messages name a stream by its masked URL; the real one is only opened."""
    url = "rtsp://admin:s3cret@127.0.0.1:9/stream?token=t0ken"
    with pytest.raises(SourceError) as error:
        Camera(url, CameraConfig()).open()
    assert "s3cret" not in str(error.value) and "t0ken" not in str(error.value)
    assert str(error.value).startswith("cannot open rtsp://admin:***@127.0.0.1:9/stream?token=***: ")
