"""``face-live --headless`` on the real clips (real MTCNN, real facenet, real CSV and video read back).

The command runs in this process with the session's models (``live(argv, models=...)``
builds nothing else), so each clip costs only its frames.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecore.backbones import Backbone
from facecore.bundle import load_bundle
from facecore.camera import Camera
from facecore.faces import UNKNOWN
from facecore.recognizer import Recognizer
from helpers import VIDEOS, need
from live_helpers import ENROLLED, facenet_sets
from realtime.cli import live
from facecore.csvlog import COLUMNS
from realtime.engine.step import Engine
from realtime.engine.pipeline import SourceStage

pytestmark = pytest.mark.slow


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(COLUMNS)
    assert all(len(r) == len(COLUMNS) for r in rows)
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def video_frames(path: Path) -> tuple[int, tuple]:
    cap = cv2.VideoCapture(str(path))
    n, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, shape = n + 1, frame.shape
    cap.release()
    return n, shape


def run_clip(clip: str | Path, tmp_path: Path, models, bundle, *extra: str):
    """Run face-live over ``clip`` (under the shared videos, or any path); returns the report and CSV rows."""
    source = need(VIDEOS / clip)
    log = tmp_path / "log.csv"
    argv = ["--source", str(source), "--headless", "--model", str(bundle), "--log", str(log), *facenet_sets(), *extra]
    report = live(argv, models=models)
    return report, csv_rows(log)


def test_obama_clip_names_obama_only_and_writes_every_frame(tmp_path, facenet_models, enrolled_bundle):
    out = tmp_path / "annotated.mp4"
    report, rows = run_clip("obama-biden/obama.mp4", tmp_path, facenet_models, enrolled_bundle,
                            "--output", str(out), "--faces", str(tmp_path / "faces"))
    names = {r["name"] for r in rows}
    assert "obama" in names and not (names & set(ENROLLED)) - {"obama"}, names
    first = next(r for r in rows if r["name"] == "obama")
    assert datetime.fromisoformat(first["time"]).utcoffset() is not None
    assert first["source"].endswith("obama.mp4") and int(first["frame"]) <= 60
    x1, y1, x2, y2 = (int(first[k]) for k in ("x1", "y1", "x2", "y2"))
    assert 0 <= x1 < x2 <= 854 and 0 <= y1 < y2 <= 480 and x2 - x1 > 40
    crop = cv2.imread(first["snapshot"])
    assert crop is not None and crop.shape[0] > 40
    assert report.frames == 153 and report.ended == "end"
    assert video_frames(out) == (153, (480, 854, 3))
    # recognition is not run on every frame: on appearance, then every K frames
    assert 0 < report.model_calls <= 153 // 10 + 3
    assert report.first_name_frame is not None and report.first_name_frame <= 40


def test_biden_clip_names_biden_only(tmp_path, facenet_models, enrolled_bundle):
    report, rows = run_clip("obama-biden/biden.mp4", tmp_path, facenet_models, enrolled_bundle)
    names = {r["name"] for r in rows}
    assert "biden" in names and not (names & set(ENROLLED)) - {"biden"}, names
    assert report.frames == 210
    # one row per person per cooldown (60 s of source time; the clip is 7 s)
    assert sum(r["name"] == "biden" for r in rows) == 1


def test_crowd_of_strangers_names_nobody_enrolled(tmp_path, facenet_models, enrolled_bundle):
    report, rows = run_clip("crowd-unknown/video.mp4", tmp_path, facenet_models, enrolled_bundle,
                            "--max-frames", "36")
    assert report.frames == 36 and report.ended == "max-frames"
    assert len(rows) >= 2, "the crowd's faces were not even seen"
    assert {r["name"] for r in rows} == {UNKNOWN}
    tracks = [r["track"] for r in rows]
    assert len(tracks) == len(set(tracks))  # each stranger once per track


def test_paced_source_display_does_not_wait_for_recognition(tmp_path, facenet_models, enrolled_bundle):
    out = tmp_path / "live.mp4"
    report, rows = run_clip("obama-biden/obama.mp4", tmp_path, facenet_models, enrolled_bundle,
                            "--output", str(out), "--set", "camera.pace=true", "--set", "tracker.recognize_every=1")
    clip_seconds = 153 / 29.97
    assert report.ended == "end"
    assert report.seconds < clip_seconds * 1.3 + 1.0  # plays at the source's rate
    assert report.steps < report.frames  # the worker skipped frames; the picture did not wait
    assert report.frames > 0.5 * 153
    assert video_frames(out)[0] == report.frames
    assert {r["name"] for r in rows} <= {"obama", UNKNOWN} and "obama" in {r["name"] for r in rows}


def counting_backbone(real: Backbone) -> Backbone:
    """The real backbone (of either runtime), counting its model calls and their batch sizes (a
    spy, not a mock)."""

    @dataclass
    class CountingBackbone(type(real)):
        batches: list = field(default_factory=list)

        def run_batch(self, batch):
            self.batches.append(len(batch))
            return super().run_batch(batch)

    return CountingBackbone(**{f.name: getattr(real, f.name) for f in fields(real)})


def test_one_batched_model_call_per_step_for_several_faces(facenet_config, facenet_models, enrolled_bundle):
    real = facenet_models.backbone
    spy = counting_backbone(real)
    recognizer = Recognizer.from_bundle(load_bundle(enrolled_bundle), facenet_config, backbone=spy)
    engine = Engine([SourceStage("crowd", facenet_config, facenet_models.detector, True)], facenet_models.detector,
                    recognizer)
    calls_per_step = []
    with Camera(str(need(VIDEOS / "crowd-unknown/video.mp4"))) as camera:
        for frame in camera:
            before = len(spy.batches)
            snapshot = engine.step({"crowd": frame})["crowd"]
            calls_per_step.append((len(spy.batches) - before, snapshot.recognized, snapshot.detected))
            if frame.index == 12:
                break
    first_calls, first_faces, _ = calls_per_step[0]
    assert first_faces >= 3, "the crowd's first frame should show several faces"
    crops = first_faces * (2 if recognizer.crop.mirror else 1)  # mirror images go in the same call
    assert first_calls == 1 and spy.batches[0] == real.batch_plan(crops)[0][2]  # padded on TensorFlow
    for calls, faces, detected in calls_per_step:
        assert calls == (1 if faces else 0)
        assert faces == 0 or detected  # recognition only on detection frames
    assert [c for c, _, d in calls_per_step if not d] == [0] * 8  # frames 1, 2, 4, 5, 7, 8, 10, 11
    assert set(spy.batches) <= {real.batch_plan(n)[0][2] for n in range(1, max(real.batch_sizes) + 1)}


def clip_frame(clip: Path, index: int, size: tuple[int, int]) -> np.ndarray:
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def test_folder_of_photos_names_each_photo_on_its_own(tmp_path, facenet_models, enrolled_bundle):
    folder = tmp_path / "photos"
    folder.mkdir()
    # Biden and then Obama, their faces at nearly the same place: no name may carry over
    cv2.imwrite(str(folder / "1.jpg"), clip_frame(need(VIDEOS / "obama-biden/biden.mp4"), 30, (854, 480)))
    cv2.imwrite(str(folder / "2.jpg"), clip_frame(need(VIDEOS / "obama-biden/obama.mp4"), 30, (854, 480)))
    report, rows = run_clip(folder, tmp_path, facenet_models, enrolled_bundle, "--set", "log.cooldown_s=0")
    assert report.frames == 2
    assert [(r["frame"], r["name"]) for r in rows] == [("0", "biden"), ("1", "obama")]
    assert rows[0]["track"] != rows[1]["track"]
