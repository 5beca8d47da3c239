"""A scene cut on a real join (Obama's clip, then Biden's): nothing of the shot before the cut is
logged or drawn after it, inline (``face-live --headless``) and live (the display drawing the
worker's latest snapshot); with ``camera.cut_threshold = 0`` the old behaviour shows."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest

from facecore.camera import Camera
from facecore.config import CameraConfig, Config, LogConfig
from helpers import VIDEOS, join_clips, need
from live_helpers import facenet_sets
from realtime.cli import live
from realtime.engine.step import Engine
from realtime.events.records import EventLog
from realtime.engine.local import LiveLoop, LoopOptions, View
from realtime.window.overlay import Overlay
from realtime.engine.pipeline import SourceStage
from realtime.window.sinks import VideoSink

pytestmark = pytest.mark.slow

CUT = 60  # the joined clip's first frame of Biden


@pytest.fixture(scope="module")
def joined(tmp_path_factory) -> Path:
    """60 frames of obama.mp4, then 60 of biden.mp4 at the same size."""
    return join_clips(need(VIDEOS / "obama-biden/obama.mp4"), need(VIDEOS / "obama-biden/biden.mp4"),
                      tmp_path_factory.mktemp("cuts") / "obama-then-biden.mp4", CUT)


def logged(clip: Path, tmp_path: Path, models, bundle, threshold: str) -> tuple[dict, list[dict]]:
    """``face-live --headless`` over ``clip``, a row for every named face (no cooldown): the source's
    figures and the CSV rows."""
    log = tmp_path / "log.csv"
    argv = ["--source", str(clip), "--headless", "--model", str(bundle), "--log", str(log), *facenet_sets(),
            "--set", "log.cooldown_s=0", "--set", f"camera.cut_threshold={threshold}"]
    report = live(argv, models=models)
    with open(log, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return next(iter(report.sources.values())), rows


def split_at_cut(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    return [r for r in rows if int(r["frame"]) < CUT], [r for r in rows if int(r["frame"]) >= CUT]


def test_after_a_cut_no_track_or_name_of_the_shot_before_is_logged(tmp_path, joined, facenet_models,
                                                                   enrolled_bundle):
    source, rows = logged(joined, tmp_path, facenet_models, enrolled_bundle, "0.15")
    before, after = split_at_cut(rows)
    assert source["cuts"] == 1
    assert "obama" in {r["name"] for r in before}
    assert "biden" in {r["name"] for r in after}
    assert "obama" not in {r["name"] for r in after}, [(r["frame"], r["name"]) for r in after]
    assert not {r["track"] for r in before} & {r["track"] for r in after}


def test_without_cut_detection_the_track_and_name_carry_over_the_cut(tmp_path, joined, facenet_models,
                                                                     enrolled_bundle):
    source, rows = logged(joined, tmp_path, facenet_models, enrolled_bundle, "0")
    before, after = split_at_cut(rows)
    assert source["cuts"] == 0
    carried = [r for r in after if r["track"] in {b["track"] for b in before}]
    assert carried and carried[0]["name"] == "obama", [(r["frame"], r["track"], r["name"]) for r in after]


class DrawingLoop(LiveLoop):
    """The real loop, noting for each frame drawn the snapshot's tracks and those drawn (a spy)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.drawn: list[tuple[int, int, set, set]] = []  # frame, snapshot's frame, its tracks, tracks drawn

    def _drawn_faces(self, view, frame, snapshot):
        faces = super()._drawn_faces(view, frame, snapshot)
        self.drawn.append((frame.index, snapshot.frame_index, set(snapshot.faces.track_ids.tolist()),
                           set(faces.track_ids.tolist())))
        return faces


def draw_live(clip: Path, tmp_path: Path, detector, threshold: float) -> list[tuple[int, int, set, set]]:
    """Play ``clip`` paced (the live loop: a worker on the newest frame, every frame drawn from the
    latest snapshot into a video); returns what was drawn on each frame."""
    config = Config().replace(camera={"cut_threshold": threshold})
    engine = Engine([SourceStage("joined", config, detector, recognizing=False)], detector, None)
    engine.warm_up()
    camera = Camera(str(clip), CameraConfig(pace=True))
    with camera, VideoSink(tmp_path / "drawn.mp4", camera.fps) as video:
        assert camera.live
        loop = DrawingLoop([View("joined", camera, video)], engine, EventLog(None, LogConfig()),
                           Overlay(config.overlay), LoopOptions(), threading.Event())
        loop.run()
    return loop.drawn


def tracks_before_cut(drawn) -> set:
    return set().union(*(tracks for _, made_at, tracks, _ in drawn if made_at < CUT))


def test_live_display_draws_nothing_of_the_shot_before_a_cut(tmp_path, joined, detector):
    drawn = draw_live(joined, tmp_path, detector, CameraConfig().cut_threshold)
    old = tracks_before_cut(drawn)
    after = [(frame, made_at, shown) for frame, made_at, _, shown in drawn if frame >= CUT]
    assert old and after
    assert all(not shown & old for _, _, shown in after), after
    assert all(made_at >= CUT for _, made_at, shown in after if shown)
    assert any(shown for _, _, shown in after)  # Biden's face is drawn, under a new track


def test_live_display_without_cut_detection_draws_the_shot_before_after_the_cut(tmp_path, joined, detector):
    drawn = draw_live(joined, tmp_path, detector, 0.0)
    old = tracks_before_cut(drawn)
    assert any(shown & old for frame, _, _, shown in drawn if frame >= CUT)
