"""The first seconds: the window shows the source while the models load, headless runs say when
the models are ready, and no command prints TensorFlow's, absl's or CUDA's start-up lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import REPO, VIDEOS, copy_people, need, write_clip
from live_helpers import facenet_sets
from realtime.window.overlay import _FONT
from realtime.window.startup import LOADING
from window_helpers import need_tools, screenshot, under_xvfb, x_env

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
# What native start-up code prints: absl's preamble, oneDNN, cudart, cuInit, the CPU feature
# guard, and glog/absl-style lines ("I0000 00:00:...", "W1203 ...").
NATIVE = re.compile(r"absl::|oneDNN|cudart|cuInit|cuda|cpu_feature_guard|tensorflow/|^[IWEF]\d{4} \d\d:\d\d",
                    re.IGNORECASE | re.MULTILINE)


def run_clean(module: str, *args: str, env: dict | None = None, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m module args`` with a clean environment: no TF_CPP_MIN_LOG_LEVEL or other
    setting inherited from the test run, only what a fresh shell has, plus ``env``."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LANG": "C.UTF-8",
             "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600,
                          env=clean, cwd=cwd)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    return write_clip(need(OBAMA), tmp_path_factory.mktemp("clip") / "obama-30.mp4", frames=30)


@pytest.mark.slow
@pytest.mark.parametrize("environment", [{}, {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "1"}],
                         ids=["clean", "tensorflow-verbose"])
def test_face_live_and_train_keep_native_start_up_lines_off_stderr(tmp_path, enrolled_bundle, short_clip,
                                                                    environment):
    live = run_clean("realtime.cli", "--headless", "--source", str(short_clip), "--model", str(enrolled_bundle),
                     "--log", str(tmp_path / "log.csv"), "--report", str(tmp_path / "report.json"),
                     *facenet_sets(), env=environment, cwd=tmp_path)
    assert live.returncode == 0, live.stderr
    assert not NATIVE.findall(live.stderr), live.stderr
    ready = [line for line in live.stderr.splitlines() if line.startswith("face-live: models ready in ")]
    assert len(ready) == 1, live.stderr
    for part in ("runtime", "detector", "backbone", "warm-up"):
        assert f"{part} " in ready[0]
    lines = live.stderr.splitlines()
    assert lines.index(ready[0]) < next(i for i, line in enumerate(lines) if " frames in " in line)
    startup = json.loads((tmp_path / "report.json").read_text())["startup"]
    assert startup["models_s"] > 0 and set(startup["parts"]) == {"runtime", "detector", "backbone", "warm-up"}

    people = copy_people(tmp_path / "people", {name: sorted((VIDEOS / "obama-biden" / "enroll" / name).iterdir())
                                               for name in ("obama", "biden")})
    train = run_clean("enroll.cli", "train", "--data", str(people), "--model", str(tmp_path / "model"),
                      "--set", "train.min_images=1", "--set", f"train.cache_dir={tmp_path / 'cache'}",
                      *facenet_sets(), env=environment, cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    assert not NATIVE.findall(train.stderr), train.stderr


@pytest.mark.slow
def test_debug_shows_what_native_code_prints(tmp_path, short_clip):
    """The pattern above matches what TensorFlow really prints: with --debug it reaches stderr (on the
    TensorFlow runtime: LiteRT, the CPU's default, imports no TensorFlow once its networks are converted)."""
    done = run_clean("realtime.cli", "--headless", "--source", str(short_clip), "--log", "", "--max-frames", "2",
                     "--debug", "--set", "recognition.runtime=tensorflow", env={"TF_CPP_MIN_LOG_LEVEL": "0"},
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert NATIVE.search(done.stderr), done.stderr


def loading_score(shot: np.ndarray) -> float:
    """How well the white text ``LOADING`` (as the panel draws it) matches anywhere in ``shot``."""
    (width, height), base = cv2.getTextSize(LOADING, _FONT, 0.48, 1)
    template = np.zeros((height + base + 4, width + 4), np.uint8)
    cv2.putText(template, LOADING, (2, height + 2), _FONT, 0.48, 255, 1, cv2.LINE_AA)
    white = np.where(shot.min(axis=2) > 200, 255, 0).astype(np.uint8)
    return float(cv2.matchTemplate(white, template, cv2.TM_CCOEFF_NORMED).max())


@pytest.mark.slow
def test_window_shows_the_source_with_loading_models_before_the_models_are_ready(tmp_path, enrolled_bundle):
    """Under Xvfb: a screenshot taken before face-live said its models were ready shows the
    clip's first frame and "loading models..." on it. On the TensorFlow runtime, whose seconds of
    loading the screen is for (LiteRT is ready in under a second, too soon to photograph)."""
    need_tools()
    clip = need(OBAMA)
    capture = cv2.VideoCapture(str(clip))
    ok, first = capture.read()
    capture.release()
    assert ok
    first = cv2.cvtColor(first, cv2.COLOR_BGR2RGB)
    patch = first[20:180, -220:-20]  # top right: away from the panels on the left
    command = [sys.executable, "-m", "realtime.cli", "--source", str(clip), "--model", str(enrolled_bundle),
               "--log", "", *facenet_sets(), "--set", "recognition.runtime=tensorflow"]
    with under_xvfb(command, tmp_path) as (proc, info):
        deadline, seen = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None and seen is None:
            time.sleep(0.3)
            env = x_env(info)
            ready_before = "models ready" in (tmp_path / "err.txt").read_text()
            shot = screenshot(env, tmp_path / "shot.png") if env else None
            if shot is None or ready_before:
                if ready_before:
                    break
                continue
            source = float(cv2.matchTemplate(shot, patch, cv2.TM_CCOEFF_NORMED).max())
            if source > 0.9 and loading_score(shot) > 0.8:
                seen = shot
    err = (tmp_path / "err.txt").read_text()
    assert seen is not None, f"no screenshot showed the clip with '{LOADING}' before the models were ready: {err}"
