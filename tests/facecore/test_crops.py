"""Crops: pure, clamped, square, optionally aligned on the eye line."""

from __future__ import annotations

import cv2
import numpy as np

from facecore.crops import crop_transforms, extract_crops
from facecore.faces import Faces


def test_crop_is_pure_sized_and_centred():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 90:110] = 255  # a white square in the middle of the box
    before = frame.copy()
    faces = Faces([[80, 30, 120, 70]])
    crops = extract_crops(frame, faces, 64, margin=0.0, align=False)
    assert crops.shape == (1, 64, 64, 3) and crops.dtype == np.uint8
    assert np.array_equal(frame, before)
    assert crops[0, 32, 32].tolist() == [255, 255, 255]
    assert crops[0, 2, 2].tolist() == [0, 0, 0]


def test_box_beyond_the_frame_is_clamped_not_an_error():
    frame = np.full((50, 50, 3), 200, np.uint8)
    crops = extract_crops(frame, Faces([[-30, -30, 20, 20]]), 32, margin=0.5)
    assert crops.shape == (1, 32, 32, 3)
    assert crops[0, 0, 0].tolist() == [0, 0, 0]  # outside: black
    assert crops[0, -1, -1].tolist() == [200, 200, 200]  # inside: the frame


def test_alignment_levels_the_eyes():
    marks = np.array([[[40, 40], [60, 50], [50, 55], [42, 65], [58, 70]]], np.float32)
    faces = Faces([[30, 30, 70, 80]], landmarks=marks)
    m = crop_transforms(faces, 100, 0.2, align=True)[0]
    eyes = cv2.transform(marks[:, :2], m)[0]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-3
    unaligned = cv2.transform(marks[:, :2], crop_transforms(faces, 100, 0.2, align=False)[0])[0]
    assert abs(unaligned[0, 1] - unaligned[1, 1]) > 5


def test_no_faces_gives_empty_batch():
    out = extract_crops(np.zeros((10, 10, 3), np.uint8), Faces.empty(), 32)
    assert out.shape == (0, 32, 32, 3)
