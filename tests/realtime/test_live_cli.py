"""``face-live`` as a real process: usage errors, running before anyone is enrolled, clean stops."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import pytest

from helpers import REPO, VIDEOS, need, run_command
from facecore.csvlog import COLUMNS

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"


def one_error_line(result, code: int) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("face-live: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("args, code, words", [
    (["--model", "no/such/bundle", "--headless"], 2, "--model no/such/bundle: no model bundle"),
    (["--set", "tracker.vote_min=9", "--headless"], 2, "vote_min"),
    (["--set", "overlay.stale_s=-1", "--headless"], 2, "overlay.stale_s must be >= 0.0"),
    (["--source", "no/such/clip.mp4", "--headless"], 1, "not found: no/such/clip.mp4"),
])
def test_usage_and_source_errors_are_one_line_before_any_model_loads(tmp_path, args, code, words):
    start = time.monotonic()
    result = run_command("realtime.cli", *args, "--log", str(tmp_path / "l.csv"), timeout=60, cwd=tmp_path)
    assert words in one_error_line(result, code)
    assert time.monotonic() - start < 20  # TensorFlow was not even imported
    assert not (tmp_path / "l.csv").exists()


def test_a_log_file_with_other_columns_is_a_usage_error_and_left_alone(tmp_path):
    log = tmp_path / "mine.csv"
    log.write_text("date,amount\n2024-01-01,3\n")
    result = run_command("realtime.cli", "--source", str(tmp_path), "--headless", "--log", str(log), timeout=60)
    assert "columns differ" in one_error_line(result, 2)
    assert log.read_text() == "date,amount\n2024-01-01,3\n"


def test_a_window_without_a_display_is_a_usage_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "realtime.cli", "--source", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, env={**env, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert "--headless" in one_error_line(result, 2)


def test_negative_max_frames_is_a_usage_error(tmp_path):
    result = run_command("realtime.cli", "--max-frames", "-3", "--headless", timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "--max-frames" in result.stderr


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(COLUMNS) and all(len(r) == len(COLUMNS) for r in rows)
    return [dict(zip(COLUMNS, r)) for r in rows[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_nobody_enrolled_runs_and_a_signal_stops_cleanly_with_csv_and_video_closed(tmp_path, sig):
    """No bundle at the default path (cwd is empty): every face is unknown, the user is told how
    to enroll, once; the paced clip is stopped by a signal early on."""
    need(OBAMA)
    log, video = tmp_path / "rec.csv", tmp_path / "out.mp4"
    args = ["--source", str(OBAMA), "--headless", "--log", str(log), "--output", str(video),
            "--set", "camera.pace=true"]
    with open(tmp_path / "err.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "realtime.cli", *args], cwd=tmp_path, stderr=err,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and not (log.exists() and log.stat().st_size > 100):
            time.sleep(0.1)
        proc.send_signal(sig)
        code = proc.wait(30)
    stderr = (tmp_path / "err.txt").read_text()
    assert code == 0, stderr
    assert f"{sig.name}: stopping" in stderr and "stopped: signal" in stderr
    assert stderr.count("face-enroll capture NAME") == 1 and "no model bundle at models/current" in stderr
    assert "face-live: device: CPU" in stderr or "face-live: device: GPU:0" in stderr
    frames = int(re.search(r"(\d+) frames in", stderr).group(1))
    assert 0 < frames < 150  # stopped well before the clip's end
    assert [r["name"] for r in read_csv(log)] == ["unknown"]
    cap = cv2.VideoCapture(str(video))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames  # the file was finalised
    shown, raw = cap.read()[1], cv2.VideoCapture(str(OBAMA)).read()[1]
    corner = (slice(440, 480), slice(0, 420))  # the on-screen hint, bottom left
    assert bright(shown[corner]) > bright(raw[corner]) + 100


def bright(image) -> int:
    return int((image.min(axis=2) > 200).sum())
