"""The two transports around one engine core give the same run: the same synthetic clips (coloured
squares for faces, tests/fakes.py; one source with a scene cut) through the local engine (the live
loop and the writer thread) and through the Ray engine (camera actors, a Serve deployment and the
log actor, on a real local Ray, with the fake models inside the actors). Compared: the names per
source, the CSV rows, and the annotated videos frame by frame (boxes and labels, the grey of boxes
only carried between detections, nothing of the shot before a cut); and the hub of each run hears
every row written and the views, with pictures only for the source watched."""

from __future__ import annotations

import csv
import os
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np
import pytest

from facecore.camera import Camera
from facecore.config import load_config
from facecore.csvlog import COLUMNS, CsvLog
from facecore.source_names import SourceSpec
from fakes import GREY, PALETTE, ColourDetector, ColourRecognizer
from helpers import REPO
from realtime.engine.step import Engine
from realtime.events.records import EventLog
from realtime.events.hub import SIGHTING, VIEW, Hub
from realtime.engine.local import LiveLoop, LoopOptions, View
from realtime.window.overlay import COLOURS, Overlay
from realtime.engine.pipeline import SourceStage
from realtime.window.sinks import VideoSink
from realtime.events.writer import Writer

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CUT = 20  # the first frame of door's second shot
FRAMES = 40
SETTINGS = ["detector.every_n_frames=3", "tracker.recognize_every=1", "tracker.vote_window=3",
            "tracker.vote_min=2", "camera.cut_threshold=0.05", "overlay.show_stats=false", "log.cooldown_s=1"]


def _clip(path: Path, squares: list[tuple[str, int, int, int, range]]) -> Path:
    """A 10 fps MJPG clip of :data:`FRAMES` frames with a square (colour, x, y, side) on each frame of
    its range, drifting 1 px a frame to the right."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for i in range(FRAMES):
        image = np.full((240, 320, 3), GREY, np.uint8)
        for colour, x, y, side, shown in squares:
            if i in shown:
                image[y:y + side, x + i % 20:x + i % 20 + side] = PALETTE[colour][::-1]  # BGR
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def clips(tmp_path) -> dict[str, Path]:
    """door: ada, then a cut to grace; hall: alan, out of sight (undetected) for frames 24-29, and a
    stranger."""
    return {"door": _clip(tmp_path / "door.avi", [("ada", 40, 60, 90, range(CUT)),
                                                  ("grace", 200, 90, 100, range(CUT, FRAMES))]),
            "hall": _clip(tmp_path / "hall.avi", [("alan", 30, 40, 40, range(24)), ("alan", 30, 40, 40, range(30, 40)),
                                                  ("stranger", 180, 120, 60, range(FRAMES))])}


def _listen(hub: Hub):
    hub.watch("door")
    return hub.subscribe(maxsize=100_000)


def _run_local(config, clips: dict, out: Path, hub: Hub):
    detector = ColourDetector(config.detector)
    engine = Engine([SourceStage(name, config, detector, True) for name in clips], detector,
                    ColourRecognizer(["ada", "grace", "alan"]))
    events = Writer(EventLog(CsvLog(config.log.path), config.log, None, hub=hub))
    options = LoopOptions(stale_s=config.overlay.stale_s, show_stats=False)
    with ExitStack() as stack:
        views = []
        for name, clip in clips.items():
            camera = stack.enter_context(Camera(str(clip), config.camera))
            views.append(View(name, camera, stack.enter_context(VideoSink(out / f"{name}.avi", camera.fps))))
        LiveLoop(views, engine, events, Overlay(config.overlay), options).run()
    events.close()
    return engine.counts.faces


def _run_ray(config, clips: dict, out: Path, hub: Hub, monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    from ray_fakes import FakeReplica, fake_detector
    from realtime.engine.ray_engine import run_ray

    here = Path(__file__).parent  # the actors import fakes and ray_fakes by name
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(here.parent), str(here)]))
    monkeypatch.setenv("RAY_BACKEND_LOG_LEVEL", "fatal")
    specs = [SourceSpec(name, str(clip)) for name, clip in clips.items()]
    videos = {name: out / f"{name}.avi" for name in clips}
    report = run_ray(config, specs, videos, 0, say=lambda line: None, hub=hub, models=(fake_detector, FakeReplica))
    assert report.error == "", report.error
    return report.faces_recognized


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(COLUMNS)
    return [dict(zip(COLUMNS, r)) for r in rows[1:]]


def _frames(path: Path) -> list[np.ndarray]:
    capture, out = cv2.VideoCapture(str(path)), []
    while (got := capture.read())[0]:
        out.append(got[1][:, :, ::-1].astype(np.int16))
    capture.release()
    return out


def _grey_labels(image: np.ndarray) -> int:
    """Pixels of the grey of a stale label or box."""
    return int((np.abs(image - np.array(COLOURS["stale"])).max(axis=2) <= 6).sum())


def _drawn_near(image: np.ndarray, box: tuple[int, int, int, int]) -> int:
    """Pixels of any label colour in the band above and around ``box`` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    band = image[max(0, y1 - 30):y2, max(0, x1 - 5):x2]
    return sum(int((np.abs(band - np.array(c)).max(axis=2) <= 8).sum())
               for kind, c in COLOURS.items() if kind != "unknown")  # ada's own red is "unknown"'s


def test_both_engines_name_log_and_draw_the_same_clips_alike(tmp_path, clips, monkeypatch):
    """Ray runs two recogniser replicas: the faces its report counts are those of both (a call
    through the handle for the figures reaches one replica only)."""
    runs, faces = {}, {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        out.mkdir()
        config = load_config(None, [*SETTINGS, f"log.path={out / 'log.csv'}", "faces.folder=", "ray.replicas=2"])
        hub = Hub()
        heard = _listen(hub)
        if engine == "local":
            faces[engine] = _run_local(config, clips, out, hub)
        else:
            faces[engine] = _run_ray(config, clips, out, hub, monkeypatch)
        messages = []
        while (message := heard.get(timeout=0)) is not None:
            messages.append(message)
        runs[engine] = {"rows": _rows(out / "log.csv"), "messages": messages,
                        "videos": {name: _frames(out / f"{name}.avi") for name in clips}}
    local, ray = runs["local"], runs["ray"]
    assert faces["ray"] == faces["local"] > 0, faces

    names = {e: {s: {r["name"] for r in run["rows"] if r["source"] == s} for s in clips} for e, run in runs.items()}
    assert names["local"] == names["ray"], names
    assert names["local"] == {"door": {"ada", "grace"}, "hall": {"alan", "unknown"}}
    rows = {e: sorted((r["source"], r["name"], r["track"], int(r["frame"])) for r in run["rows"])
            for e, run in runs.items()}
    assert [r[:3] for r in rows["local"]] == [r[:3] for r in rows["ray"]], rows
    assert all(abs(a[3] - b[3]) <= 1 for a, b in zip(rows["local"], rows["ray"])), rows

    for name in clips:
        a, b = local["videos"][name], ray["videos"][name]
        assert len(a) == len(b) == FRAMES
        grey = [(_grey_labels(x) > 50, _grey_labels(y) > 50) for x, y in zip(a, b)]
        assert [g for g, _ in grey] == [g for _, g in grey], grey
        if name == "hall":  # alan's track, carried while he is out of sight, is grey
            assert sum(g for g, _ in grey) >= 3, grey
        differ = [i for i, (x, y) in enumerate(zip(a, b)) if np.abs(x - y).mean() > 2.0]
        assert not differ, f"{name}: the frames drawn differ at {differ}"
    ada_box = (40 + CUT - 1, 60, 40 + CUT - 1 + 90, 150)  # where ada was on the last frame before the cut
    for run in runs.values():
        door = run["videos"]["door"]
        assert _drawn_near(door[CUT - 1], ada_box) > 100
        assert all(_drawn_near(frame, ada_box) < 20 for frame in door[CUT:]), "a label of the shot before the cut"

    for engine, run in runs.items():
        sightings = [m.record for m in run["messages"] if m.kind == SIGHTING]
        assert [(s["source"], s["name"], str(s["frame"])) for s in sightings] == \
            [(r["source"], r["name"], r["frame"]) for r in run["rows"]], engine
        views = [m.record for m in run["messages"] if m.kind == VIEW]
        assert {v["source"] for v in views} == set(clips), engine
        assert all(("picture" in v) == (v["source"] == "door") for v in views), engine
