"""The face store: owner-only records and pictures read back, damaged ones skipped with a warning,
retention and the bound on faces, the crop kept for a face (real LFW photos as the pictures)."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from facecore.errors import UsageError
from facecore.facestore import FaceStore, StoredFace, face_crop, new_face_id
from helpers import DATA, need

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def photo() -> bytes:
    return sorted(need(DATA / "lfw-dev" / "Abdullah_Gul").glob("*.jpg"))[0].read_bytes()


def face(when: datetime, name: str = "unknown", features=True, track: int = 1) -> StoredFace:
    vector = np.random.default_rng(track).normal(size=128).astype(np.float32) if features else None
    return StoredFace(new_face_id(when), when.isoformat(), "door", track, 7, name, 0.42, (10, 20, 60, 90),
                      {"sharpness": 120.0, "size": 50.0, "score": 0.3}, vector, "facenet:sha256:x")


def test_a_face_is_kept_owner_only_and_read_back_as_written(tmp_path):
    store = FaceStore(tmp_path / "faces")
    kept = face(NOW)
    path = store.add(kept, photo())
    assert path == tmp_path / "faces" / f"{kept.id}.jpg" and path.read_bytes() == photo()
    assert stat.S_IMODE((tmp_path / "faces").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (tmp_path / "faces").iterdir())
    [back] = store.faces()
    assert (back.id, back.time, back.source, back.track, back.name, back.box) == \
           (kept.id, kept.time, "door", 1, "unknown", (10.0, 20.0, 60.0, 90.0))
    assert np.allclose(back.features, kept.features, atol=1e-6) and back.score == 0.3
    assert store.find(path).id == kept.id == store.find(kept.id).id == store.find(str(path)).id
    assert store.update(back, name="ada").name == "ada" and store.faces()[0].name == "ada"


def test_ids_sort_by_time_and_name_nobody():
    early, late = new_face_id(NOW), new_face_id(NOW + timedelta(milliseconds=1))
    assert early < late and early.startswith("20250601T120000000-")


def test_a_face_outside_the_store_is_refused(tmp_path):
    store = FaceStore(tmp_path / "faces")
    store.add(face(NOW), photo())
    other = tmp_path / "elsewhere" / f"{store.ids()[0]}.jpg"
    for given in (other, "no-such-id", tmp_path / "faces" / "nope.jpg"):
        with pytest.raises(UsageError, match="is not a face kept in"):
            store.find(given)


def test_damaged_or_half_written_faces_are_skipped_with_a_warning(tmp_path, caplog):
    store = FaceStore(tmp_path / "faces")
    good, cut, garbage, alone, nan = (face(NOW + timedelta(seconds=i), track=i) for i in range(5))
    for kept in (good, cut, garbage, alone, nan):
        store.add(kept, photo())
    record = tmp_path / "faces" / f"{cut.id}.json"
    record.write_bytes(record.read_bytes()[:60])  # a crash in the middle of a write
    (tmp_path / "faces" / f"{garbage.id}.json").write_bytes(b"\x00\xff not json")
    (tmp_path / "faces" / f"{alone.id}.jpg").unlink()  # its picture is gone
    bad = json.loads((tmp_path / "faces" / f"{nan.id}.json").read_text())
    bad["features"][3] = "x"
    (tmp_path / "faces" / f"{nan.id}.json").write_text(json.dumps(bad))
    with caplog.at_level(logging.WARNING):
        assert [f.id for f in store.faces()] == [good.id]
    warned = caplog.text
    assert all(f"skipping the stored face {tmp_path / 'faces' / f'{k.id}.json'}" in warned
               for k in (cut, garbage, alone, nan))
    assert "picture" in warned and "cannot read its record" in warned


def test_prune_deletes_old_faces_then_the_oldest_beyond_the_bound_and_old_leftovers(tmp_path):
    store = FaceStore(tmp_path / "faces")
    ages = [40, 31, 29, 3, 2, 1]  # days
    kept = [face(NOW - timedelta(days=d), track=i) for i, d in enumerate(ages)]
    for k in kept:
        store.add(k, photo())
    stray = tmp_path / "faces" / "20250101T000000000-deadbeef.jpg"  # a run killed between picture and record
    stray.write_bytes(photo())
    fresh_stray = tmp_path / "faces" / ".x.jpg.tmp123"
    fresh_stray.write_bytes(b"in progress")
    hour_ago = time.time() - 7200
    os.utime(stray, (hour_ago, hour_ago))
    gone = store.prune(retention_days=30, max_faces=3, now=NOW)
    assert gone == [kept[0].id, kept[1].id, kept[2].id]  # two too old, then the oldest beyond 3
    assert [f.id for f in store.faces()] == [k.id for k in kept[3:]]
    assert not stray.exists() and fresh_stray.exists()  # a write in progress is left alone


def test_the_crop_is_the_square_around_the_box_with_margin_clamped_and_never_enlarged():
    image = np.arange(50 * 40 * 3, dtype=np.uint8).reshape(50, 40, 3)
    crop = face_crop(image, np.array([-10, -10, 20, 30]), margin=0.6, max_px=320)
    assert np.array_equal(crop, image[:42, :37])  # side 40 * 1.6 around (5, 10), cut at the frame
    big = np.zeros((1000, 1000, 3), np.uint8)
    assert face_crop(big, np.array([100, 100, 600, 600]), 0.6, 320).shape == (320, 320, 3)
    assert face_crop(big, np.array([100, 100, 150, 150]), 0.6, 320).shape == (80, 80, 3)
