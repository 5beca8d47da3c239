"""On a CPU, face-live runs on LiteRT: ``face-enroll train`` converts the networks ahead, and a
face-live process then never imports TensorFlow or Keras (proved from the real process's own
``-X importtime`` lines); with the cache gone, face-live converts on first use, saying so once."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, VIDEOS, copy_people, need, write_clip
from live_helpers import facenet_sets

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
# Importing any of these means TensorFlow came in (mtcnn's package and h5py's readers are what
# built the models with it).
HEAVY = ("tensorflow", "keras", "mtcnn", "tf_keras", "h5py")


def run(*args: str, cache: Path, cwd: Path, python: tuple = ()) -> subprocess.CompletedProcess:
    """``python [python...] -m args`` on CPU only, converted models kept under ``cache``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LANG": "C.UTF-8",
           "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(cache), "CUDA_VISIBLE_DEVICES": "-1"}
    return subprocess.run([sys.executable, *python, "-m", *args], capture_output=True, text=True, timeout=900,
                          env=env, cwd=cwd)


def imported(stderr: str) -> set[str]:
    """The top-level packages a ``-X importtime`` run imported (its ``import time:`` lines)."""
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", stderr, re.MULTILINE)
    return {name.split(".")[0] for name in names}


def named(log: Path) -> set[str]:
    with open(log, newline="", encoding="utf-8") as fh:
        return {row["name"] for row in csv.DictReader(fh)}


@pytest.mark.slow
def test_face_live_on_cpu_imports_no_tensorflow_once_train_has_converted(tmp_path):
    clip = write_clip(need(OBAMA), tmp_path / "obama-60.mp4", frames=60)
    people = copy_people(tmp_path / "people", {name: sorted((VIDEOS / "obama-biden" / "enroll" / name).iterdir())
                                               for name in ("obama", "biden")})
    cache = tmp_path / "xdg"
    litert = cache / "facecam" / "litert"
    train = run("enroll.cli", "train", "--data", str(people), "--model", str(tmp_path / "model"),
                "--set", "train.min_images=1", "--set", f"train.cache_dir={tmp_path / 'cache'}", *facenet_sets(),
                cache=cache, cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    for name in ("facenet", "mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"):
        assert f"converting {name} for LiteRT, once" in train.stderr
        assert len(list(litert.glob(f"{name}-*.tflite"))) == 1

    live_args = ("realtime.cli", "--headless", "--source", str(clip), "--model", str(tmp_path / "model"),
                 "--log", str(tmp_path / "log.csv"), *facenet_sets())
    live = run(*live_args, cache=cache, cwd=tmp_path, python=("-X", "importtime"))
    assert live.returncode == 0, live.stderr[-3000:]
    assert "converting" not in live.stderr and "face-live: device: CPU (LiteRT)" in live.stderr
    modules = imported(live.stderr)
    assert {"facecore", "realtime", "ai_edge_litert", "cv2"} <= modules  # the lines are read right
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))
    assert "obama" in named(tmp_path / "log.csv")

    next(litert.glob("facenet-*.tflite")).unlink()
    again = run(*live_args, cache=cache, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [line for line in again.stderr.splitlines() if "converting" in line] == [
        f"converting facenet for LiteRT, once, into {litert}/ (not converted yet)"]
    assert "obama" in named(tmp_path / "log.csv")
