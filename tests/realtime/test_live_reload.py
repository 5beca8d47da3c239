"""A running face-live follows its model bundle: a person taken out of it (as `face-enroll remove`
does first) is no longer named within seconds, with no restart and every frame still shown."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from datetime import datetime

import pytest

from enroll.removal import forget_in_bundle
from helpers import REPO, VIDEOS, need, write_clip
from live_helpers import facenet_sets


def _rows(path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [row for row in csv.DictReader(fh) if row.get("source")]


@pytest.mark.slow
def test_a_person_removed_while_face_live_runs_is_no_longer_named(tmp_path, enrolled_bundle):
    clip = write_clip(need(VIDEOS / "obama-biden" / "obama.mp4"), tmp_path / "obama-x4.mp4", times=4)
    model = shutil.copytree(enrolled_bundle, tmp_path / "model")
    log = tmp_path / "log.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime.cli", "--source", str(clip), "--model", str(model), "--headless",
         "--log", str(log), "--set", "log.cooldown_s=0", *facenet_sets()],
        cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not any(r["name"] == "obama" for r in _rows(log)):
            assert proc.poll() is None and time.monotonic() < deadline, "obama was never named"
            time.sleep(0.2)
        assert forget_in_bundle(model, "obama") == "stripped"
        removed = datetime.now().astimezone()
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "model bundle reloaded" in err and "612 frames" in err, err[-3000:]  # every frame, no restart
    rows = _rows(log)
    named_after = [datetime.fromisoformat(r["time"]) for r in rows if r["name"] == "obama"]
    later = [r for r in rows if datetime.fromisoformat(r["time"]) > removed]
    assert (max(named_after) - removed).total_seconds() < 3.0, "obama was still named 3 s after removal"
    assert later and later[-1]["name"] == "unknown"


def _reload_once(path, caplog) -> tuple[list, list[str]]:
    """One reload of the bundle at ``path`` (no model is built: the bundle is invalid or gone);
    returns what was handed to the engine and the warnings logged."""
    import logging

    from facecore.config import load_config
    from realtime.engine.reload import ModelReloader

    applied = []
    reloader = ModelReloader(path, load_config(None, []), None, "the-old-id", applied.append)
    with caplog.at_level(logging.INFO, logger="realtime.engine.reload"):
        reloader._reload()
    return applied, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_bundle_made_invalid_gives_one_warning_that_says_invalid_and_why(tmp_path, caplog):
    """A logic test: no model runs; the bundle's meta.json is damaged mid-run."""
    model = tmp_path / "model"
    model.mkdir()
    for name in ("meta.json", "labels.json", "head.npz"):
        (model / name).write_text("{ damaged")
    applied, warnings = _reload_once(model, caplog)
    assert applied == [None]  # the old model is not kept: every face is unknown
    assert len(warnings) == 1, warnings
    assert "cannot be used" in warnings[0] and str(model) in warnings[0] and "unknown" in warnings[0]
    assert "gone" not in warnings[0]


def test_a_bundle_that_is_gone_gives_one_warning_that_says_gone(tmp_path, caplog):
    applied, warnings = _reload_once(tmp_path / "model", caplog)
    assert applied == [None]
    assert len(warnings) == 1 and "is gone" in warnings[0], warnings
