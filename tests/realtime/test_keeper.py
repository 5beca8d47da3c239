"""Which faces face-live keeps: each row's face, the best few per logged track, those seen while the
name was voted on; the writer's bound on faces and its daily pruning. The step snapshots are
built by hand (the face's pixels, boxes and features are data here; the clips tests run the
real models)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import cv2
import numpy as np

from facecore.config import CaptureConfig, FacesConfig, LogConfig
from facecore.csvlog import CsvLog, read_log
from facecore.facestore import FaceStore
from facecore.faces import PENDING, UNKNOWN, Faces
from realtime.events.records import PRUNE_S, EventLog, EventMaker
from realtime.events.keeper import KeepRules
from realtime.engine.pipeline import StepResult

RULES = KeepRules(FacesConfig(per_track=3), CaptureConfig(), "facenet:test")


def scene(blur: float) -> np.ndarray:
    """A 200x200 picture with a sharp pattern in the face box, blurred by ``blur`` (0: sharp)."""
    image = np.zeros((200, 200, 3), np.uint8)
    image[60:140, 60:140] = (np.indices((80, 80)).sum(axis=0) % 16 * 16)[..., None]
    return cv2.GaussianBlur(image, (0, 0), blur) if blur else image


def step(name: str, frame: int, looked: bool = True, track: int = 1) -> StepResult:
    faces = Faces(np.array([[60, 60, 140, 140]], np.float32), names=[name], confidences=[0.9],
                  track_ids=[track]).with_data(carried=False, fresh=True, source="cam")
    if looked:
        faces = faces.with_data(features=np.full((1, 4), 0.5, np.float32))
    return StepResult("cam", frame, frame / 30, faces)


def test_each_row_keeps_its_face_and_the_track_keeps_its_best_few():
    maker = EventMaker(LogConfig(), RULES)
    events = maker.events(step(PENDING, 0), scene(3.0))  # voting: waits in memory
    events += maker.events(step(PENDING, 3), scene(0.0))
    assert events == []
    events = maker.events(step(UNKNOWN, 6), scene(6.0))  # decided: a row, and the two waiting faces
    rows = [e for e in events if e.row is not None]
    kept = [e.face.face for e in events if e.face is not None]
    assert len(rows) == 1 and rows[0].face.face.row and rows[0].face.face.frame == 6
    assert sorted(f.frame for f in kept) == [0, 3, 6] and {f.name for f in kept} == {UNKNOWN}
    assert all(np.allclose(f.features, 0.5) and f.backbone == "facenet:test" for f in kept)
    # per_track 3: the row's face stays; a sharper face replaces the blurred one of frame 0...
    sharp = [e for e in maker.events(step(UNKNOWN, 9), scene(0.0)) if e.face is not None or e.drop]
    frame0 = next(f.id for f in kept if f.frame == 0)
    assert [e.face.face.frame for e in sharp if e.face] == [9] and [e.drop for e in sharp if e.drop] == [(frame0,)]
    # ...and a worse one is not kept
    assert maker.events(step(UNKNOWN, 12), scene(8.0)) == []


def test_a_row_between_model_calls_keeps_its_face_without_features_and_ended_tracks_are_forgotten():
    maker = EventMaker(LogConfig(cooldown_s=0.0), RULES)
    [event] = maker.events(step("ann", 0, looked=False), scene(0.0))
    assert event.face.face.features is None and event.face.face.backbone == ""
    maker.events(step(PENDING, 1, track=2), scene(0.0))
    assert set(maker.picker._tracks) == {("cam", 2)}  # track 1 left the picture


def test_the_writer_stores_faces_bounded_and_prunes_daily(tmp_path):
    now, clock = [0.0], lambda: now[0]
    keep = KeepRules(FacesConfig(max_faces=3, retention_days=1), CaptureConfig())
    with CsvLog(tmp_path / "rec.csv") as csv_log:
        log = EventLog(csv_log, LogConfig(cooldown_s=0.0), str(tmp_path / "faces"), clock=clock, keep=keep)
        for frame in range(5):
            log.record(step("ann", frame, track=frame + 10), scene(0.0))
        store = FaceStore(tmp_path / "faces")
        assert len(store.ids()) == 3  # the oldest went first
        rows = read_log(tmp_path / "rec.csv")
        assert [r["snapshot"] != "" for r in rows] == [True] * 5
        assert [r["snapshot"].endswith(f"{i}.jpg") for r, i in zip(rows[2:], store.ids())] == [True] * 3
        old = store.faces()[0]
        store.update(old, time=(datetime.now(timezone.utc) - timedelta(days=2)).isoformat())
        now[0] += PRUNE_S  # a day later, the next step prunes
        log.record(step("ann", 6, track=99), scene(0.0))
        assert old.id not in store.ids() and len(store.ids()) == 3


def test_a_track_keeps_faces_spread_over_its_whole_time_not_only_its_sharpest():
    """A track sharp at its start, a little less so later: the faces kept span the track."""
    maker = EventMaker(LogConfig(cooldown_s=1e9), RULES)
    kept = {}
    for frame in range(0, 90, 3):
        for e in maker.events(step(UNKNOWN, frame), scene(0.0 if frame < 12 else 0.7)):
            if e.face is not None:
                kept[e.face.face.id] = e.face.face.frame
            for gone in e.drop or ():
                kept.pop(gone, None)
    frames = sorted(kept.values())
    assert len(frames) == 3 and frames[0] == 0 and frames[-1] >= 60, frames  # not only the sharp first frames
