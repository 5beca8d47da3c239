"""``--output`` when writing fails: a full disk (a real 2 MiB tmpfs) and a file size limit.

OpenCV's ``VideoWriter.write`` reports nothing and prints a warning per failed frame; face-live
must end with exit 1 and one line naming the file instead, and leave no flood of warnings.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import cv2
import pytest

from helpers import REPO, VIDEOS, need, run_command

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"  # 153 frames; about 1.4 MB once written as mp4v


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MiB tmpfs (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a 2 MiB tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
def test_a_full_disk_under_output_is_exit_1_naming_the_file_and_leaves_a_playable_video(tmp_path, small_disk):
    out = small_disk / "annotated.mp4"
    result = run_command("realtime.cli", "--source", str(need(OBAMA)), "--headless", "--log", "", "--output",
                         str(out), "--set", f"train.model={tmp_path / 'none'}", timeout=300, cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    errors = [line for line in lines if line.startswith("face-live: error:")]
    assert len(errors) == 1 and errors == lines[-1:], result.stderr
    assert errors[0].startswith(f"face-live: error: cannot write the video {out}: its disk is full (")
    assert all(line.startswith("face-live: ") for line in lines), result.stderr  # no OpenCV or TensorFlow lines
    frames = int(re.search(r"the video ends at frame (\d+)$", errors[0]).group(1))
    assert 0 < frames < 153
    video = cv2.VideoCapture(str(out))  # closed in time: what was written can be played
    assert video.isOpened() and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == frames


_LIMITED_WRITER = """
import resource, signal, sys
import cv2
from facecore.camera import Camera
from facecore.errors import FacecamError
from realtime.window.sinks import VideoSink

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))  # invisible to the free-space check
try:
    with Camera(sys.argv[1]) as camera, VideoSink(sys.argv[2], camera.fps) as sink:
        for frame in camera:
            sink.write(frame.image)
except FacecamError as exc:
    sys.exit(f"error: {exc}")
"""


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv"])
def test_a_video_cut_short_by_a_file_size_limit_is_an_error_at_close_without_warnings(tmp_path, suffix):
    """Each frame's write fails past 300 kB (OpenCV would warn for each); closing the sink reads the
    file back, finds it damaged and says so once."""
    out = tmp_path / f"out{suffix}"
    done = subprocess.run([sys.executable, "-c", _LIMITED_WRITER, str(need(OBAMA)), str(out)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OPENCV_FFMPEG_LOGLEVEL": "-8"})  # as face-live sets it
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: the video {out} was not written whole: it reads back as 0 frames "
                                   "of the 153 written (disk full, or a file size limit?)")
