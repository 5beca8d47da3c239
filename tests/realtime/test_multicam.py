"""Many sources, one recogniser: face-live over several real clips in one process.

Obama, Biden and the two Hamilton people are enrolled (the stills of the clips). The
command runs in this process with the session's models (``live(argv, models=...)``), or
as a real process under Xvfb for the window.
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np
import pytest

from facecore.errors import SourceError, UsageError
from facecore.faces import UNKNOWN
from helpers import VIDEOS, need, write_clip
from live_helpers import facenet_sets
from realtime.cli import live
from realtime.window.overlay import _FONT, COLOURS
from reliability_helpers import DroppingCamera
from test_live_clips import csv_rows, video_frames
from window_helpers import need_tools, press, screenshot, under_xvfb, wait_for_png, x_env

pytestmark = pytest.mark.slow

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"  # 153 frames, 854x480
BIDEN = VIDEOS / "obama-biden" / "biden.mp4"  # 210 frames, 1280x720
HAMILTON = VIDEOS / "hamilton-whitehouse" / "short_hamilton_clip.mp4"  # 275 frames, 640x360


def _names_by_source(rows: list[dict]) -> dict[str, set]:
    out: dict[str, set] = {}
    for row in rows:
        out.setdefault(row["source"], set()).add(row["name"])
    return out


def test_three_named_sources_share_one_recognizer_each_named_only_where_seen(tmp_path, facenet_models,
                                                                             enrolled_bundle):
    for clip in (OBAMA, BIDEN, HAMILTON):
        need(clip)
    log, videos = tmp_path / "log.csv", tmp_path / "videos"
    argv = ["--source", f"obama={OBAMA}", "--source", f"biden={BIDEN}", "--source", f"hamilton={HAMILTON}",
            "--headless", "--model", str(enrolled_bundle), "--log", str(log), "--output", str(videos),
            *facenet_sets()]
    report = live(argv, models=facenet_models)
    seen = _names_by_source(csv_rows(log))
    assert "obama" in seen["obama"] and seen["obama"] <= {"obama", UNKNOWN}, seen
    assert "biden" in seen["biden"] and seen["biden"] <= {"biden", UNKNOWN}, seen
    # President Obama is in the Hamilton clip's audience: the one source besides his own where his name is right
    assert seen["hamilton"] <= {"alex_lacamoire", "lin_manuel_miranda", "obama", UNKNOWN} and seen["hamilton"], seen
    # one annotated video per source, each holding every frame, at the source's size
    assert video_frames(videos / "obama.mp4") == (153, (480, 854, 3))
    assert video_frames(videos / "biden.mp4") == (210, (720, 1280, 3))
    assert video_frames(videos / "hamilton.mp4") == (275, (360, 640, 3))
    assert {name: s["frames"] for name, s in report.sources.items()} == {"obama": 153, "biden": 210, "hamilton": 275}
    assert report.ended == "end" and report.steps == 275  # one step per round of frames
    # crops of several sources went through the same model call
    assert report.faces_recognized > report.model_calls > 0
    summary = report.summary()
    assert f"{report.model_calls} model calls for {report.faces_recognized} faces" in summary
    assert "\n  obama: 153 frames" in summary and "\n  hamilton: 275 frames" in summary


def test_a_file_cut_short_ends_alone_and_the_others_play_to_their_end(tmp_path, facenet_models, enrolled_bundle):
    cut = tmp_path / "cut.mp4"
    data = need(BIDEN).read_bytes()
    cut.write_bytes(data[: len(data) // 3])  # a third of the file: OpenCV still opens it
    log, videos = tmp_path / "log.csv", tmp_path / "videos"
    argv = ["--source", f"cut={cut}", "--source", f"obama={need(OBAMA)}", "--headless", "--model",
            str(enrolled_bundle), "--log", str(log), "--output", str(videos), *facenet_sets()]
    report = live(argv, models=facenet_models)
    assert report.ended == "end"
    assert 0 < report.sources["cut"]["frames"] < 210 and report.sources["obama"]["frames"] == 153
    assert video_frames(videos / "obama.mp4")[0] == 153
    assert "obama" in _names_by_source(csv_rows(log))["obama"]


def test_a_stream_that_drops_for_good_does_not_stop_the_other_sources_mocked_camera(tmp_path, detector):
    """Camera 0 (a clip behind a stand-in capture: no webcam here) gives 20 frames, then drops and
    cannot be reopened; the file beside it is played (paced, as a live source is there) to its end.
    The run then ends with the lost camera as its error."""
    from facecore.models import Models

    camera = DroppingCamera(need(OBAMA), [20])

    def opener(source):
        return camera(source) if source == 0 else cv2.VideoCapture(source)

    log = tmp_path / "log.csv"
    argv = ["--source", "door=0", "--source", f"hall={need(OBAMA)}", "--headless", "--log", str(log),
            "--set", f"train.model={tmp_path / 'none'}", "--set", "camera.reconnect_attempts=1",
            "--set", "camera.reconnect_backoff_s=0.05"]
    started = time.monotonic()
    with pytest.raises(SourceError, match="0: source lost"):
        live(argv, models=Models(detector), opener=opener)
    assert time.monotonic() - started >= 153 / 29.97 * 0.9  # the hall clip played on, at its own rate
    assert len(camera.opened) == 2 and all(c.released for c in camera.opened)
    sources = {row["source"] for row in csv_rows(log)}
    assert sources == {"door", "hall"}  # both logged their stranger


def test_several_sources_need_an_output_folder_and_distinct_names(tmp_path):
    with pytest.raises(UsageError, match="give a folder"):
        live(["--source", str(OBAMA), "--source", str(BIDEN), "--headless", "--output", str(tmp_path / "a.mp4")])
    with pytest.raises(UsageError, match="two sources are called 'x'"):
        live(["--source", f"x={OBAMA}", "--source", f"x={BIDEN}", "--headless"])


def _title_mask(title: str) -> np.ndarray:
    """Where the mosaic's white title text of ``title`` has its pixels (the overlay's panel font)."""
    (w, h), base = cv2.getTextSize(title, _FONT, 0.48, 1)
    canvas = np.zeros((h + base + 4, w + 4), np.uint8)
    cv2.putText(canvas, title, (2, h + 2), _FONT, 0.48, 255, 1, cv2.LINE_AA)
    return canvas


def _title_score(picture: np.ndarray, title: str, cell: tuple) -> float:
    """How well ``title`` matches the top-right corner of the cell ``(x, y, w, h)`` of ``picture``."""
    x, y, w, h = cell
    corner = cv2.cvtColor(np.ascontiguousarray(picture[y:y + 40, x + w - 200:x + w]), cv2.COLOR_RGB2GRAY)
    white = np.where(corner > 127, 255, 0).astype(np.uint8)  # the text, not the darkened picture under it
    mask = np.where(_title_mask(title) > 127, 255, 0).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    mask = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]  # the glyphs alone
    return float(cv2.matchTemplate(white, mask, cv2.TM_CCOEFF_NORMED).max())


def _green(picture: np.ndarray, cell: tuple) -> int:
    """Pixels near the overlay's "known" green in a cell: boxes and labels of named faces."""
    x, y, w, h = cell
    region = picture[y:y + h, x:x + w].astype(int)
    return int((np.abs(region - np.array(COLOURS["known"])).sum(axis=2) < 60).sum())


CELLS = {"obama": (0, 0, 640, 360), "biden": (640, 0, 640, 360), "hamilton": (0, 360, 640, 360)}


def test_three_sources_in_one_window_of_tiles_under_xvfb(tmp_path, enrolled_bundle):
    need_tools()
    clips = {name: write_clip(need(path), tmp_path / f"{name}-x4.mp4", times=4)
             for name, path in (("obama", OBAMA), ("biden", BIDEN), ("hamilton", HAMILTON))}
    command = [sys.executable, "-m", "realtime.cli", *[a for n, c in clips.items() for a in ("--source", f"{n}={c}")],
               "--model", str(enrolled_bundle), "--log", str(tmp_path / "log.csv"), *facenet_sets(),
               "--set", "camera.pace=true", "--set", "overlay.stale_s=3.0", "--hold",  # up until q, as before
               "--set", f"overlay.screenshot_dir={tmp_path / 'snaps'}"]
    with under_xvfb(command, tmp_path) as (proc, info):
        env, shot = _wait_for_both_named(info, tmp_path / "shot.png", proc)
        press(env, "s")
        saved = wait_for_png(tmp_path / "snaps", proc)
        press(env, "q")
        code = proc.wait(30)
    assert code == 0, (tmp_path / "err.txt").read_text()
    picture = cv2.cvtColor(cv2.imread(str(saved)), cv2.COLOR_BGR2RGB)  # what the `s` key saved: the whole grid
    assert picture.shape == (720, 1280, 3)
    for name, cell in CELLS.items():
        assert _title_score(picture, name, cell) > 0.8, name  # each tile titled with its source
    assert np.all(picture[360:, 640:] <= 90)  # the fourth cell is empty
    assert _green(shot, CELLS["obama"]) > 100 and _green(shot, CELLS["biden"]) > 100  # named in their tiles


def _wait_for_both_named(env_file, shot_path, proc, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1.0)
        env = x_env(env_file)
        shot = screenshot(env, shot_path) if env is not None else None
        if shot is not None and _green(shot, CELLS["obama"]) > 100 and _green(shot, CELLS["biden"]) > 100:
            return env, shot
    pytest.fail(f"obama and biden were not both shown named (exit code {proc.poll()}); last shot {shot_path}")
