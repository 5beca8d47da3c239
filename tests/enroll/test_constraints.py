"""The clustering that review uses, under what the video says (must-link: a track; cannot-link: one
frame). Feature vectors are made up here (the logic is the subject; test_review.py and the
clips tests run the real models)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from enroll.clusters import cluster, hard_impostors, purity, purity_distance
from enroll.constraints import TRACK_FAR, video_constraints
from enroll.review import group_faces
from facecore.facestore import StoredFace

START = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def near(v: np.ndarray, distance: float, rng) -> np.ndarray:
    """A unit vector at about cosine ``distance`` from unit ``v``."""
    w = rng.normal(size=v.shape)
    w -= (w @ v) * v
    w /= np.linalg.norm(w)
    angle = np.arccos(1.0 - distance)
    return np.cos(angle) * v + np.sin(angle) * w


def face(i: int, track: int, frame: int, x1: float, features, seconds: float = 0.0, source: str = "cam") -> StoredFace:
    when = START + timedelta(seconds=seconds)
    return StoredFace(f"f{i:04d}", when.isoformat(), source, track, frame, "unknown", 0.5,
                      (x1, 10.0, x1 + 50.0, 60.0), {"score": 0.5}, np.asarray(features, np.float32), "t")


def test_without_constraints_it_is_scikit_learns_average_linkage():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(6, 16))
    x = centres[rng.integers(0, 6, 90)] + rng.normal(scale=0.5, size=(90, 16))
    ours = cluster(x, 0.4)
    theirs = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=0.4).fit_predict(x)
    assert adjusted_rand_score(ours, theirs) == 1.0 and len(np.unique(ours)) > 1
    assert list(cluster(x[:1], 0.5)) == [0] and len(cluster(x[:0], 0.5)) == 0


def test_three_look_alikes_on_screen_together_are_never_merged():
    """Three brothers: their faces are closer across people (0.3) than the merge distance (0.5),
    but each frame shows all three, side by side."""
    rng = np.random.default_rng(2)
    base = rng.normal(size=64)
    base /= np.linalg.norm(base)
    brothers = [near(base, 0.15, rng) for _ in range(3)]
    faces, truth = [], []
    for frame in range(6):
        for b in range(3):
            faces.append(face(len(faces), -1, frame * 10, 100.0 * b, near(brothers[b], 0.05, rng), frame))
            truth.append(b)
    x = np.stack([f.features for f in faces])
    assert len(np.unique(cluster(x, 0.5))) == 1  # the features alone merge them
    groups = group_faces(faces, 0.5)
    found = {f.id: g for g, members in enumerate(groups) for f in members}
    labels = np.array([found[f.id] for f in faces])
    assert purity(labels, np.array(truth)) == 1.0 and len(groups) == 3


def test_boxes_that_overlap_heavily_are_no_cannot_link_and_other_moments_are_none():
    rng = np.random.default_rng(3)
    v = rng.normal(size=32)
    v /= np.linalg.norm(v)
    same = [face(0, -1, 5, 100.0, v), face(1, -1, 5, 105.0, near(v, 0.05, rng))]  # IoU 0.82
    apart = [face(0, -1, 5, 100.0, v), face(1, -1, 5, 300.0, near(v, 0.05, rng))]
    later = [face(0, -1, 5, 100.0, v), face(1, -1, 5, 300.0, near(v, 0.05, rng), seconds=60)]  # a new run
    other = [face(0, -1, 5, 100.0, v), face(1, -1, 5, 300.0, near(v, 0.05, rng), source="door")]
    x = np.stack([f.features for f in same])
    for faces, pairs in ((same, 0), (apart, 1), (later, 0), (other, 0)):
        assert len(video_constraints(faces, x)[1]) == pairs
    assert len(group_faces(apart, 0.5)) == 2 and len(group_faces(same, 0.5)) == 1


def test_a_tracks_faces_go_together_unless_they_are_far_apart():
    rng = np.random.default_rng(4)
    v = rng.normal(size=64)
    v /= np.linalg.norm(v)
    profile = near(v, 0.5, rng)  # further than the merge distance, nearer than TRACK_FAR
    track = [face(0, 7, 1, 100.0, v, 0.0), face(1, 7, 5, 100.0, profile, 0.2)]
    assert len(group_faces(track, 0.4)) == 1
    untracked = [face(0, -1, 1, 100.0, v, 0.0), face(1, -1, 5, 100.0, profile, 0.2)]
    assert len(group_faces(untracked, 0.4)) == 2
    other = near(v, TRACK_FAR + 0.2, rng)  # the tracker swapped two people
    swapped = [face(0, 7, 1, 100.0, v, 0.0), face(1, 7, 2, 100.0, near(v, 0.05, rng), 0.1),
               face(2, 7, 3, 100.0, other, 0.2)]
    units, _ = video_constraints(swapped, np.stack([f.features for f in swapped]))
    assert units[0] == units[1] != units[2]
    restarted = [face(0, 7, 1, 100.0, v, 0.0), face(1, 7, 5, 100.0, profile, 3600.0)]  # track 7 of a later run
    assert len(group_faces(restarted, 0.4)) == 2


def test_an_old_record_without_track_or_frame_loads_and_takes_part_in_no_constraint():
    record = json.loads(face(0, 3, 4, 100.0, [1.0, 0.0]).to_json())
    del record["track"], record["frame"]
    old = StoredFace.from_json(json.dumps(record).encode())
    assert (old.track, old.frame) == (-1, -1)
    twin = StoredFace.from_json(json.dumps({**record, "id": "f0001", "box": [300, 10, 350, 60]}).encode())
    units, cannot = video_constraints([old, twin], np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert len(set(units)) == 2 and len(cannot) == 0


def test_the_purity_first_distance_keeps_the_hard_impostors_out():
    genuine, impostor = np.linspace(0.5, 0.9, 100), np.linspace(0.3, 0.7, 100)
    s = 1.0 - purity_distance(genuine, impostor)
    g, i = np.mean(genuine >= s), np.mean(impostor >= s)
    assert g / (g + i) >= 0.97 and np.mean(genuine >= s - 0.01) / (
        np.mean(genuine >= s - 0.01) + np.mean(impostor >= s - 0.01)) < 0.97
    x = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.0, 1.0, 0.0], [0.1, 0.0, 1.0]])
    hard = hard_impostors(x, np.array(["a", "a", "b", "b", "c"]))
    assert len(hard) == 4 + 2  # a with b (2 x 2 pairs), c with a, its nearest (1 x 2)
