"""The real window, under a virtual X display: it opens, draws a box and a name, and quits on ``q``."""

from __future__ import annotations

import importlib.metadata
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import VIDEOS, need, write_clip
from live_helpers import facenet_sets
from realtime.window.overlay import COLOURS, _PAD, draw_label
from realtime.window.sinks import gui_backend
from window_helpers import need_tools, press, screenshot, under_xvfb, wait_for_png, window_ids, x_env


def test_opencv_has_a_gui_backend():
    assert gui_backend(), "OpenCV was built without a GUI: the live window cannot open"
    installed = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert "opencv-python-headless" not in installed, "opencv-python-headless replaces the GUI build silently"


def label_template(text: str, font_scale: float) -> np.ndarray:
    """The pixels ``draw_label`` gives the start of a label reading ``text`` (RGB)."""
    canvas = np.zeros((80, 400, 3), np.uint8)
    x1, y1, x2, y2 = draw_label(canvas, text, 10, 60, COLOURS["known"], font_scale)
    return canvas[y1:y2, x1:x2 - _PAD]


def find_label(shot: np.ndarray, text: str, font_scale: float = 0.6) -> float:
    """Best normalised correlation of ``text``'s label anywhere in the screenshot."""
    result = cv2.matchTemplate(shot, label_template(text, font_scale), cv2.TM_CCOEFF_NORMED)
    return float(result.max())


def wait_for_name(env_file: Path, shot_path: Path, proc, timeout: float = 200) -> tuple[dict, np.ndarray]:
    """Screenshots until the window shows a green box labelled "obama"; returns the X env and the shot.
    On failure it says how far face-live got: window opened or not, anything drawn or a black screen."""
    deadline, opened, drawn = time.monotonic() + timeout, False, False
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1.0)
        env = x_env(env_file)
        if env is None:
            continue
        opened = opened or bool(window_ids(env))
        shot = screenshot(env, shot_path)
        drawn = drawn or (shot is not None and int(shot.max()) > 0)
        known = 0 if shot is None else int(np.all(shot == np.array(COLOURS["known"], np.uint8), axis=2).sum())
        if known > 300 and find_label(shot, "obama") > 0.9:
            return env, shot
    err = env_file.with_name("err.txt").read_text()[-1500:]
    pytest.fail(f"no box labelled obama appeared on screen within {timeout:.0f} s (process exit code {proc.poll()}, "
                f"window {'opened' if opened else 'never opened'}, {'drawn' if drawn else 'screen all black'}); "
                f"last shot {shot_path}; stderr: {err}")


@pytest.mark.slow
def test_window_under_xvfb_shows_box_and_name_and_quits_on_q(tmp_path, enrolled_bundle):
    need_tools()
    # 8 times over: the 5 s clip could end before a slow machine has shown a name
    clip = write_clip(need(VIDEOS / "obama-biden" / "obama.mp4"), tmp_path / "obama-x8.mp4", times=8)
    log = tmp_path / "log.csv"
    # played like a camera (paced, newest frame only); labels turn grey ("stale") after 3 s
    # rather than 1 s, so that a loaded machine still shows the name in green
    command = [sys.executable, "-m", "realtime.cli", "--source", str(clip), "--model", str(enrolled_bundle),
               "--log", str(log), *facenet_sets(), "--set", "camera.pace=true", "--set", "tracker.recognize_every=1",
               "--set", "recognition.batch_sizes=[1]", "--set", "overlay.stale_s=3.0",
               "--set", f"overlay.screenshot_dir={tmp_path / 'snaps'}", "--hold"]  # s and q even if the clip ended
    with under_xvfb(command, tmp_path) as (proc, info):
        env, shot = wait_for_name(info, tmp_path / "shot.png", proc)
        press(env, "s")
        saved = wait_for_png(tmp_path / "snaps", proc)
        press(env, "q")
        code = proc.wait(20)
    assert code == 0, (tmp_path / "err.txt").read_text()
    assert find_label(shot, "obama") > find_label(shot, "biden") + 0.1
    assert "obama" in log.read_text()
    snapshot = cv2.cvtColor(cv2.imread(str(saved)), cv2.COLOR_BGR2RGB)  # the `s` key saved what was shown
    assert snapshot.shape == (480, 854, 3) and find_label(snapshot, "obama") > 0.9
    assert saved.stat().st_mode & 0o777 == 0o600  # it shows faces: owner-only, as every file of faces


def _wait_for_line(err: Path, text: str, proc, timeout: float = 240) -> str:
    """stderr (``err``) once it holds ``text``; fails when the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = err.read_text() if err.exists() else ""
        if text in seen:
            return seen
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"{text!r} never appeared on stderr (exit code {proc.poll()}): {err.read_text()[-2000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("hold", [False, True])
def test_a_window_on_a_file_quits_when_it_ends_unless_hold(tmp_path, hold):
    """Nobody enrolled (only the detector runs): a 20-frame clip in the window. Without --hold
    face-live closes by itself when the clip ends; with it, it keeps the last frame until q."""
    need_tools()
    clip = write_clip(need(VIDEOS / "obama-biden" / "obama.mp4"), tmp_path / "clip.mp4", frames=20)
    command = [sys.executable, "-m", "realtime.cli", "--source", str(clip), "--log", "", *(["--hold"] * hold)]
    err = tmp_path / "err.txt"
    with under_xvfb(command, tmp_path) as (proc, info):
        if not hold:
            code = proc.wait(240)
            assert code == 0, err.read_text()
            assert "face-live: clip.mp4 ended\n" in err.read_text()
            return
        _wait_for_line(err, "face-live: clip.mp4 ended; press q to close\n", proc)
        time.sleep(2)
        assert proc.poll() is None, "face-live quit while --hold asked it to keep the window"
        env = x_env(info)
        assert env is not None
        press(env, "q")
        code = proc.wait(30)
    assert code == 0, err.read_text()
