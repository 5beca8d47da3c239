"""The contract with the ``mtcnn`` package (facecore/mtcnn_stages.py): the release, the
arguments its stages take, the layout of the rows they return, and "no candidate left".
A new mtcnn release that changes any of these fails here, not silently in face-live."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from facecore.errors import ModelError
from facecore.images import read_image
from facecore.mtcnn_stages import ROW, SUPPORTED, build_stages, check_version, run_stages
from helpers import DATA, need


def test_the_installed_release_is_one_the_adapter_was_checked_against():
    major, minor = (int(p) for p in check_version().split(".")[:2])
    assert (major, minor) in SUPPORTED


def test_another_release_is_a_model_error_naming_both(monkeypatch):
    from facecore import mtcnn_stages

    monkeypatch.setattr(mtcnn_stages.metadata, "version", lambda name: "1.1.0")
    with pytest.raises(ModelError, match=r"mtcnn 1\.1\.0 is installed.*1\.0\.x"):
        check_version()
    from facecore.config import DetectorConfig
    from facecore.detector import Detector

    with pytest.raises(ModelError, match="mtcnn 1.1.0"):
        Detector(DetectorConfig())


def test_the_stages_take_the_arguments_the_adapter_passes():
    from mtcnn.stages import StageONet, StagePNet, StageRNet

    wanted = {StagePNet: {"images_normalized", "images_oshapes", "min_face_size", "threshold_pnet"},
              StageRNet: {"images_normalized", "bboxes_batch", "threshold_rnet"},
              StageONet: {"images_normalized", "bboxes_batch", "threshold_onet"}}
    for stage, names in wanted.items():
        assert names <= set(inspect.signature(stage.__call__).parameters), stage.__name__


@pytest.fixture(scope="module")
def stages():
    return build_stages("eager")


def _iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_rows_read_by_the_layout_match_the_packages_own_output(stages):
    """Box, score and the five landmarks read from the rows by ROW are what the package's
    ``detect_faces`` reports for the same photo (same thresholds, same pyramid)."""
    from mtcnn import MTCNN

    image = read_image(need(DATA / "lfw-dev") / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg")
    rows = run_stages(stages, image, image, 1.0, search_px=20, thresholds=(0.6, 0.7, 0.7))
    assert rows.shape[1] == ROW.width and len(rows) >= 1
    theirs = MTCNN().detect_faces(image, box_format="xyxy", threshold_pnet=0.6, threshold_rnet=0.7,
                                  threshold_onet=0.7, min_face_size=20)
    best = max(theirs, key=lambda f: f["confidence"])
    ours = rows[np.argmax(rows[:, ROW.score])]
    assert _iou(ours[ROW.box], best["box"]) > 0.9
    assert abs(ours[ROW.score] - best["confidence"]) < 1e-3
    names = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
    points = np.stack([ours[ROW.landmarks_x], ours[ROW.landmarks_y]], axis=1)
    expected = np.array([best["keypoints"][n] for n in names], dtype=np.float32)
    assert np.abs(points - expected).max() <= 2.0


def test_no_candidate_left_is_no_rows_not_an_error(stages):
    blank = np.full((120, 160, 3), 128, np.uint8)
    rows = run_stages(stages, blank, blank, 1.0, search_px=20, thresholds=(0.6, 0.7, 0.7))
    assert rows.shape == (0, ROW.width)
