"""Real MTCNN on real photos: found faces, mapped-back coordinates, loud errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from facecore.camera import Camera
from facecore.config import DetectorConfig
from facecore.detector import Detector, search_size
from facecore.faces import Faces
from facecore.features import choose_subject
from facecore.images import read_image
from helpers import DATA, VIDEOS, need


def test_one_face_in_a_portrait(detector):
    img = read_image(need(DATA / "lfw-dev") / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg")
    faces = detector.detect(img)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces.boxes[0]
    h, w = img.shape[:2]
    assert 0.2 * w < (x1 + x2) / 2 < 0.8 * w and 0.2 * h < (y1 + y2) / 2 < 0.8 * h
    left_eye, right_eye = faces.landmarks[0, 0], faces.landmarks[0, 1]
    assert x1 < left_eye[0] < right_eye[0] < x2  # eyes inside the box, left before right
    assert faces.scores[0] > 0.9


def test_two_people_and_downscaled_detection_maps_back(detector):
    img = read_image(need(DATA / "unknown-dev" / "face_recognition-examples" / "_multi_person" / "two_people.jpg"))
    assert max(img.shape[:2]) > detector.config.max_side  # so detection ran on a downscaled copy
    faces = detector.detect(img)
    assert len(faces) == 2
    assert faces.boxes[:, 2].max() > detector.config.max_side  # coordinates are the full frame's
    assert np.all(faces.boxes[:, [0, 2]] <= img.shape[1]) and np.all(faces.boxes[:, [1, 3]] <= img.shape[0])


def test_no_face_and_empty_frames_give_empty_faces(detector):
    assert len(detector.detect(np.zeros((240, 320, 3), np.uint8))) == 0
    assert len(detector.detect(np.zeros((0, 0, 3), np.uint8))) == 0
    assert len(detector.detect(np.zeros((50, 50, 3), np.uint8))) == 0


@pytest.mark.parametrize("bad, error", [
    (np.zeros((20, 20, 3), np.float32), ValueError),
    (np.zeros((20, 20), np.uint8), ValueError),
    (np.zeros((20, 20, 4), np.uint8), ValueError),
    ([[1, 2, 3]], TypeError),
])
def test_broken_input_raises_instead_of_no_faces(detector, bad, error):
    with pytest.raises(error):
        detector.detect(bad)


def test_eager_and_compiled_stages_agree():
    img = read_image(need(DATA / "lfw-dev") / "Andy_Roddick" / "Andy_Roddick_0001.jpg")
    eager = Detector(DetectorConfig(compiled=False)).detect(img)
    compiled = Detector(DetectorConfig(compiled=True)).detect(img)
    assert len(eager) == len(compiled) == 1
    assert np.allclose(eager.boxes, compiled.boxes, atol=1.0)


def test_choose_subject_prefers_large_centred_face():
    faces = Faces([[0, 0, 40, 40], [80, 80, 118, 118], [190, 190, 200, 200]])
    chosen = choose_subject(faces, (200, 200, 3))
    assert np.allclose(chosen.boxes, [[80, 80, 118, 118]])


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_small_faces_of_a_crowd_are_checked_on_a_finer_copy():
    """In a 1080p crowd, faces 20-35 px across in the 480 px detection copy: RNet and ONet
    judging them on the 1280 px copy find more of them, and lose none of the others."""
    from realtime.engine.tracker import match_boxes

    clip = need(VIDEOS / "crowd-unknown" / "video.mp4")
    with Camera(str(clip)) as camera:
        frames = [frame.image for frame in camera][::5]
    coarse = Detector(DetectorConfig(refine_side=480))
    fine = Detector(DetectorConfig())
    assert fine.config.refine_side > 2 * coarse.config.max_side
    found = {"coarse": 0, "fine": 0}
    for frame in frames:
        a, b = coarse.detect(frame), fine.detect(frame)
        found["coarse"] += len(a)
        found["fine"] += len(b)
        assert len(match_boxes(a.boxes, b.boxes, 0.5)) >= len(a) - 1, "the finer check lost faces"
        assert np.all(b.boxes[:, 2] <= frame.shape[1]) and np.all(b.boxes[:, 3] <= frame.shape[0])
        centre = b.landmarks.mean(axis=1)  # landmarks in frame pixels, like the boxes
        assert np.all((b.boxes[:, :2] <= centre) & (centre <= b.boxes[:, 2:]))
    assert found["fine"] >= found["coarse"] + 4, found


def test_the_search_starts_below_the_smallest_face_to_find():
    assert search_size(20) == 16 and search_size(16) == 13 and search_size(12) == 12
