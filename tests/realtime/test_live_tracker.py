"""Tracker and vote logic on constructed ``Faces``: ids, expiry, schedule, votes, no label jumps."""

from __future__ import annotations

import numpy as np
import pytest

from facecore.config import TrackerConfig
from facecore.faces import PENDING, UNKNOWN, Faces
from facecore.recognizer import Decision
from realtime.engine.tracker import Tracker, iou_matrix, match_boxes, vote

LEFT = [100, 100, 200, 220]
RIGHT = [400, 100, 500, 220]


def faces(*boxes) -> Faces:
    return Faces(np.array(boxes, np.float32).reshape(-1, 4))


def said(names, confidences) -> Decision:
    """The model's decision on one face per name (``best`` is the name itself)."""
    return Decision(np.array(names, object), np.array(confidences, np.float32), np.array(names, object))


def moved(box, dx=0, dy=0):
    return [box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy]


def names_by_track(view: Faces) -> dict[int, str]:
    return {int(t): str(n) for t, n in zip(view.track_ids, view.names)}


def test_iou_matrix_and_greedy_matching():
    a = np.array([LEFT, RIGHT], np.float32)
    b = np.array([moved(RIGHT, 10), moved(LEFT, 50)], np.float32)
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 2)
    assert iou[0, 0] == 0 and iou[1, 1] == 0
    assert iou[1, 0] == pytest.approx(90 * 120 / (2 * 100 * 120 - 90 * 120))
    assert match_boxes(a, b, 0.3) == [(1, 0), (0, 1)]
    assert match_boxes(a, b, 0.9) == []
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 2)


def test_new_faces_get_new_ids_and_pending_names():
    tracker = Tracker(TrackerConfig())
    view = tracker.update(faces(LEFT, RIGHT), frame=0)
    assert list(view.track_ids) == [1, 2]
    assert list(view.names) == [PENDING, PENDING]


def test_ids_persist_while_the_face_moves():
    tracker = Tracker(TrackerConfig(iou_match=0.3))
    tracker.update(faces(LEFT, RIGHT), 0)
    for frame in range(3, 30, 3):
        view = tracker.update(faces(moved(RIGHT, -frame), moved(LEFT, frame)), frame)
        assert list(view.track_ids) == [1, 2]
    assert view.boxes[0][0] == pytest.approx(LEFT[0] + 27)


def test_between_detections_boxes_coast_on_their_velocity():
    tracker = Tracker(TrackerConfig())
    tracker.update(faces(LEFT), 0)
    tracker.update(faces(moved(LEFT, 12)), 3)  # 4 px per frame, smoothed by half: 2 px per frame
    view = tracker.update(None, 5)
    assert view.boxes[0][0] == pytest.approx(LEFT[0] + 12 + 2 * 2)
    assert view.boxes[0][2] - view.boxes[0][0] == pytest.approx(LEFT[2] - LEFT[0])  # size kept


def test_a_track_ends_after_max_missed_frames():
    tracker = Tracker(TrackerConfig(max_missed=10))
    tracker.update(faces(LEFT), 0)
    assert len(tracker.update(None, 10)) == 1
    assert len(tracker.update(faces(), 10)) == 1
    assert len(tracker.update(None, 11)) == 0
    assert len(tracker) == 0


def test_due_when_a_track_appears_then_every_k_frames_on_detection_frames():
    tracker = Tracker(TrackerConfig(recognize_every=10))
    due_frames = []
    for frame in range(0, 40):
        view = tracker.update(faces(LEFT) if frame % 3 == 0 else None, frame)
        due = tracker.due(view, frame)
        if due.any():
            due_frames.append(frame)
            tracker.record(view.track_ids[due], said(["ann"], [0.9]), frame)
    assert due_frames == [0, 12, 24, 36]


def test_name_needs_n_of_m_votes_and_shows_pending_until_then():
    tracker = Tracker(TrackerConfig(vote_window=5, vote_min=3))
    view = tracker.update(faces(LEFT), 0)
    track = view.track_ids
    assert tracker.record(track, said(["ann"], [0.9]), 0).names[0] == PENDING
    assert tracker.record(track, said(["bob"], [0.6]), 1).names[0] == PENDING
    assert tracker.record(track, said(["ann"], [0.8]), 2).names[0] == PENDING
    view = tracker.record(track, said(["ann"], [0.7]), 3)
    assert view.names[0] == "ann"
    assert view.confidences[0] == pytest.approx(0.8)


def test_a_decided_name_is_kept_on_mixed_votes_and_changes_only_when_another_wins():
    tracker = Tracker(TrackerConfig(vote_window=5, vote_min=3))
    track = tracker.update(faces(LEFT), 0).track_ids
    for f, name in enumerate(["ann", "ann", "ann", UNKNOWN, UNKNOWN]):
        view = tracker.record(track, said([name], [0.5]), f)
    assert view.names[0] == "ann"  # 3 ann, 2 unknown in the window
    view = tracker.record(track, said([UNKNOWN], [0.2]), 5)  # window: ann ann unknown unknown unknown
    assert view.names[0] == UNKNOWN
    view = tracker.record(track, said(["bob"], [0.9]), 6)  # ann unknown unknown unknown bob
    assert view.names[0] == UNKNOWN


def test_vote_function():
    assert vote([], 5, 3) is None
    assert vote([("a", 1.0), ("b", 1.0), ("a", 0.5)], 5, 3) is None
    assert vote([("a", 1.0), ("a", 0.5), ("b", 1.0), ("a", 0.0)], 5, 3) == ("a", 0.5)
    assert vote([("a", 1.0)] * 3 + [("b", 1.0)] * 3, 3, 3) == ("b", 1.0)  # only the last 3 count
    assert vote([("a", 1.0), ("b", 0.5)], 2, 1) == ("b", 0.5)  # tie: the most recent wins


def test_a_label_never_jumps_to_another_face():
    tracker = Tracker(TrackerConfig(vote_window=3, vote_min=2, max_missed=6))
    track = tracker.update(faces(LEFT), 0).track_ids
    tracker.record(track, said(["ann"], [0.9]), 0)
    assert names_by_track(tracker.record(track, said(["ann"], [0.9]), 0)) == {1: "ann"}
    # ann leaves; a stranger appears elsewhere: new track, still voting
    view = tracker.update(faces(RIGHT), 3)
    assert names_by_track(view) == {1: "ann", 2: PENDING}
    # ann's track ends; a face at ann's old place later is somebody new, not "ann"
    tracker.update(faces(RIGHT), 9)
    view = tracker.update(faces(RIGHT, LEFT), 12)
    assert names_by_track(view) == {2: PENDING, 3: PENDING}


def test_two_faces_crossing_keep_their_own_names():
    tracker = Tracker(TrackerConfig(vote_window=1, vote_min=1))
    view = tracker.update(faces(LEFT, RIGHT), 0)
    tracker.record(view.track_ids, said(["ann", "bob"], [0.9, 0.9]), 0)
    for frame in range(1, 8):  # they walk towards each other, 20 px per frame each
        view = tracker.update(faces(moved(LEFT, 20 * frame), moved(RIGHT, -20 * frame)), frame)
    left_of = {str(n): float(b[0]) for n, b in zip(view.names, view.boxes)}
    assert left_of["ann"] == pytest.approx(LEFT[0] + 140) and left_of["bob"] == pytest.approx(RIGHT[0] - 140)


def test_without_a_model_every_track_is_unknown_at_once():
    tracker = Tracker(TrackerConfig(), initial_name=UNKNOWN)
    view = tracker.update(faces(LEFT, RIGHT), 0)
    assert list(view.names) == [UNKNOWN, UNKNOWN]
    assert list(tracker.missed(view, 4)) == [4, 4]


def test_clear_ends_every_track_and_never_reuses_an_id():
    tracker = Tracker(TrackerConfig())
    tracker.update(faces(LEFT, RIGHT), 0)
    tracker.clear()
    assert list(tracker.update(faces(LEFT), 1).track_ids) == [3]
