"""What face-live says about a source it cannot take: a name that breaks the rule, an empty source,
a scene-cut threshold that cuts all the time. Real processes for the command's messages (they
fail before any model loads); real frames for the cut warning."""

from __future__ import annotations

import logging

import pytest

from facecore.camera import Camera
from facecore.config import CameraConfig
from facecore.errors import UsageError
from helpers import VIDEOS, need, run_command
from realtime.engine.scenes import CutWatch

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
HAMILTON = VIDEOS / "hamilton-whitehouse" / "short_hamilton_clip.mp4"
EMPTY = ("face-live: error: the source is empty: give a camera index (0), a video file, a stream URL or a "
         "folder of photos (--source, or camera.sources in the config)")


def _live(tmp_path, *args: str):
    return run_command("realtime.cli", *args, "--headless", "--log", str(tmp_path / "l.csv"),
                       "--set", f"train.model={tmp_path / 'none'}", timeout=60, cwd=tmp_path)


@pytest.mark.parametrize("name", ["door cam", "door/cam", "é", "x" * 41])
def test_a_source_name_that_breaks_the_rule_says_what_a_name_may_hold(tmp_path, name):
    result = _live(tmp_path, "--source", f"{name}={need(OBAMA)}")
    line = result.stderr.strip()
    if "/" in name:  # a path: no name was meant
        assert result.returncode == 1 and line == f"face-live: error: video file or folder not found: {name}={OBAMA}"
        return
    assert result.returncode == 2, result.stderr
    assert line.startswith(f"face-live: error: source name {name!r} (in '{name}={OBAMA}'): a name is 1 to 40 "
                           f"letters, digits, '_', '.' or '-' (no spaces), e.g. --source "), line
    assert len(line.splitlines()) == 1


def test_a_source_name_with_a_space_suggests_one_without(tmp_path):
    result = _live(tmp_path, "--source", f"door cam={need(OBAMA)}")
    assert result.stderr.strip().endswith(f"e.g. --source door_cam={OBAMA}")


def test_an_empty_source_in_a_config_file_is_one_line_saying_what_to_give(tmp_path):
    config = tmp_path / "empty.toml"
    config.write_text('[camera]\nsources = [""]\n')
    result = _live(tmp_path, "--config", str(config))
    assert result.returncode == 2 and result.stderr.strip() == (
        f"face-live: error: {config}: camera.sources must be a list of 0 to 64 non-empty strings, got ['']"), \
        result.stderr


def test_camera_refuses_an_empty_source_as_a_usage_error():
    with pytest.raises(UsageError, match="the source is empty"):
        Camera("", CameraConfig())


def _cuts(clip, threshold: float, caplog) -> tuple[int, list[str]]:
    watch = CutWatch(threshold, "door")
    with caplog.at_level(logging.WARNING, logger="realtime.engine.scenes"), Camera(str(need(clip))) as camera:
        for frame in camera:
            watch.see(frame)
    return watch.count, [r.getMessage() for r in caplog.records if r.name == "realtime.engine.scenes"]


def test_a_cut_threshold_that_cuts_more_than_once_a_second_is_warned_about_once(caplog):
    """0.01 on the Obama clip (one shot, 153 frames, about 5 s): a cut nearly every frame."""
    count, warnings = _cuts(OBAMA, 0.01, caplog)
    assert count > 100 and len(warnings) == 1, (count, warnings)
    assert warnings[0].startswith("source door: camera.cut_threshold = 0.01 found 10 scene cuts in ")
    assert "raise it (default 0.15), or set 0 to turn cut detection off" in warnings[0]


def test_real_cuts_at_the_default_threshold_are_not_warned_about(caplog):
    """The Hamilton clip's three real cuts in about 8 s."""
    count, warnings = _cuts(HAMILTON, CameraConfig().cut_threshold, caplog)
    assert count == 3 and warnings == []
