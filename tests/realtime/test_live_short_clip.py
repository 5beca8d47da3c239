"""A clip that ends before the frame count it declares (a truncated file) is played to its last
good frame with a warning; complete clips give none."""

from __future__ import annotations

import logging
import re

import cv2
import pytest

from facecore.camera import Camera
from facecore.config import CameraConfig
from helpers import VIDEOS, need, run_command

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
CLIPS = ["obama-biden/obama.mp4", "obama-biden/biden.mp4", "hamilton-whitehouse/short_hamilton_clip.mp4",
         "crowd-unknown/video.mp4"]


def _half_clip(tmp_path):
    """A copy of the Obama clip cut in half: its header still declares 153 frames."""
    clip = tmp_path / "half.mp4"
    data = need(OBAMA).read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    return clip


@pytest.mark.slow
def test_face_live_on_a_truncated_clip_ends_with_exit_0_and_a_warning_of_frames_read_vs_declared(tmp_path):
    clip = _half_clip(tmp_path)
    capture = cv2.VideoCapture(str(clip))
    assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 153
    capture.release()
    result = run_command("realtime.cli", "--source", str(clip), "--headless", "--log", "",
                         "--set", f"train.model={tmp_path / 'none'}", timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, result.stderr
    found = re.fullmatch(rf"warning: {re.escape(str(clip))} ended after (\d+) of the 153 frames "
                         r"it declares: the file is truncated or damaged", warnings[0])
    assert found, warnings[0]
    read = int(found.group(1))
    assert 20 < read < 140 and f"face-live: {read} frames in " in result.stderr  # played to its last good frame


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_a_truncated_clip_played_paced_is_warned_too(tmp_path, caplog):
    clip = _half_clip(tmp_path)
    with caplog.at_level(logging.WARNING, logger="facecore.camera"), \
            Camera(str(clip), CameraConfig(pace=True)) as camera:
        frames = list(camera)
    assert [r.getMessage() for r in caplog.records] == \
        [f"{clip} ended after {frames[-1].index + 1} of the 153 frames it declares: the file is truncated or damaged"]


@pytest.mark.parametrize("clip", CLIPS)
def test_a_complete_clip_read_to_its_end_gives_no_warning(caplog, clip):
    with caplog.at_level(logging.WARNING, logger="facecore.camera"), Camera(str(need(VIDEOS / clip))) as camera:
        frames = sum(1 for _ in camera)
    assert frames > 100 and caplog.records == []


def test_a_clip_cut_at_its_last_frames_is_within_the_slack_and_not_warned(tmp_path, caplog):
    """Declared counts can be a little off: ending a few frames early is no warning."""
    need(OBAMA)
    data = OBAMA.read_bytes()
    clip = tmp_path / "nearly.mp4"
    clip.write_bytes(data[: len(data) * 99 // 100])
    with caplog.at_level(logging.WARNING, logger="facecore.camera"), Camera(str(clip)) as camera:
        frames = sum(1 for _ in camera)
    assert 153 - 5 <= frames < 153 and caplog.records == []  # 153 declared
