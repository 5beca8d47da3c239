"""MTCNN on LiteRT (facecore/litert/mtcnn.py) against the mtcnn package on TensorFlow (the
existing Detector), on frames of the clips and LFW photos in ../shared: the same faces, boxes
and landmarks; its converted networks cached, rebuilt when damaged, and run without TensorFlow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facecore.config import DetectorConfig
from helpers import DATA, REPO, VIDEOS, need

FRAMES_PER_CLIP = 6
LFW_EVERY = 20  # one LFW photo in 20: 40 photos


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A cache folder holding the three converted networks (converted once for the module)."""
    from facecore.litert.mtcnn import converted_networks

    folder = tmp_path_factory.mktemp("litert")
    converted_networks(folder)
    return folder


@pytest.fixture(scope="module")
def lite(cache):
    from facecore.detector import build_detector

    return build_detector(DetectorConfig(), "litert", folder=cache)


def _images() -> list[tuple[str, np.ndarray]]:
    from bench.detect import sample_frames
    from facecore.images import read_image

    images = []
    for clip in sorted(need(VIDEOS).glob("*/*.mp4")):
        images += [(f"{clip.name}#{i}", f) for i, f in enumerate(sample_frames(clip, FRAMES_PER_CLIP))]
    photos = sorted(need(DATA / "lfw-dev").glob("*/*.jpg"))[::LFW_EVERY]
    return images + [(p.name, read_image(p)) for p in photos]


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_the_same_faces_boxes_and_landmarks_as_the_mtcnn_package(detector, lite):
    """The issue's contract: matched boxes IoU >= 0.9, at most 1% more or fewer faces over the
    set, landmarks within 2 px."""
    from realtime.engine.tracker import iou_matrix, match_boxes

    counts, worst_iou, worst_px, unmatched = [0, 0], 1.0, 0.0, []
    for name, image in _images():
        theirs, ours = detector.detect(image), lite.detect(image)
        counts[0] += len(theirs)
        counts[1] += len(ours)
        pairs = match_boxes(theirs.boxes, ours.boxes, 0.5)
        unmatched += [name] * (len(theirs) + len(ours) - 2 * len(pairs))
        for t, o in pairs:
            worst_iou = min(worst_iou, float(iou_matrix(theirs.boxes[t], ours.boxes[o])[0, 0]))
            worst_px = max(worst_px, float(np.abs(theirs.landmarks[t] - ours.landmarks[o]).max()))
    assert counts[0] >= 60, "too few faces for the comparison to mean anything"
    assert abs(counts[1] - counts[0]) <= 0.01 * counts[0], counts
    assert len(unmatched) <= 0.01 * counts[0], unmatched
    assert worst_iou >= 0.9 and worst_px <= 2.0, (worst_iou, worst_px)


def test_a_damaged_converted_network_is_converted_again(cache, lite, tmp_path):
    from facecore.images import read_image
    from facecore.litert.cache import is_current
    from facecore.litert.mtcnn import LiteDetector, network_key

    folder = tmp_path / "cache"
    shutil.copytree(cache, folder)
    damaged = next(folder.glob("mtcnn-pnet-*.tflite"))
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    assert not is_current("mtcnn-pnet", network_key("pnet"), folder)
    again = LiteDetector(DetectorConfig(), folder=folder)
    assert is_current("mtcnn-pnet", network_key("pnet"), folder)
    photo = read_image(need(DATA / "lfw-dev") / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg")
    before, after = lite.detect(photo), again.detect(photo)
    assert len(after) == len(before) >= 1
    assert np.allclose(after.boxes, before.boxes, atol=1e-3)


def test_past_its_pnet_interpreters_a_new_size_resizes_one_and_finds_the_same(lite, cache, monkeypatch):
    import cv2

    from facecore.images import read_image
    from facecore.litert import mtcnn

    photo = read_image(need(DATA / "lfw-dev") / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg")
    images = (photo, cv2.resize(photo, (300, 240)), photo)  # 7 and 8 pyramid levels
    expected = [lite.detect(image) for image in images]
    made = []

    class Counted(mtcnn.Runner):
        def __init__(self, *args, **kwargs):
            made.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(mtcnn, "PNET_SIZES", 3)
    monkeypatch.setattr(mtcnn, "Runner", Counted)
    few = mtcnn.LiteDetector(DetectorConfig(), folder=cache)
    for image, theirs in zip(images, expected):
        ours = few.detect(image)
        assert len(ours) == len(theirs) >= 1 and np.allclose(ours.boxes, theirs.boxes, atol=1e-3)
    assert len(few._nets.pnet) == 3 and sum("pnet" in Path(p).name for p in made) == 3


def test_another_release_or_converter_is_another_key(monkeypatch):
    from facecore.litert import mtcnn

    key = mtcnn.network_key("onet")
    assert mtcnn.network_key("onet") == key and mtcnn.network_key("rnet") != key
    monkeypatch.setattr(mtcnn, "converter_version", lambda: "tensorflow 9.9")
    assert mtcnn.network_key("onet") != key
    monkeypatch.undo()
    monkeypatch.setattr(mtcnn, "_mtcnn_version", lambda: "1.0.1")
    assert mtcnn.network_key("onet") != key


DETECT_WITHOUT_TF = """
import sys
from pathlib import Path
from facecore.config import DetectorConfig
from facecore.detector import build_detector
from facecore.images import read_image
detector = build_detector(DetectorConfig(), "litert", folder=Path(sys.argv[1]))
faces = detector.detect(read_image(sys.argv[2]))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "mtcnn"))
print(len(faces), heavy)
"""


def test_a_process_detects_from_the_cache_without_importing_tensorflow(cache):
    photo = need(DATA / "lfw-dev") / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", DETECT_WITHOUT_TF, str(cache), str(photo)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "1" and done.stdout.strip().endswith("[]"), done.stdout


def test_build_detector_names_the_runtimes(lite):
    from facecore.detector import FaceDetector, build_detector
    from facecore.litert.mtcnn import LiteDetector

    assert isinstance(lite, LiteDetector) and isinstance(lite, FaceDetector)
    with pytest.raises(ValueError, match="runtime must be one of"):
        build_detector(DetectorConfig(), "onnx")
