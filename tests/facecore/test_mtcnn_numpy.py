"""MTCNN's pipeline in NumPy (facecore/mtcnn_numpy.py): each step on its own, then the steps that
replace TensorFlow ops against those ops and the package's own functions."""

from __future__ import annotations

import numpy as np
import pytest

from facecore.mtcnn_numpy import (Networks, crop_patches, pnet_boxes, pyramid_scales, regressed, run_pipeline,
                                  squared, suppress)
from facecore.mtcnn_stages import ROW


def _rows(boxes, scores) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64)
    return np.column_stack([np.zeros(len(boxes)), boxes, np.asarray(scores, np.float64)])


def test_a_box_overlapped_by_a_suppressed_box_goes_too():
    """The package's rule, not the textbook's: C overlaps only B, B goes for A, and C goes for B."""
    a, b, c = [0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10]
    kept = suppress(_rows([c, a, b], [0.7, 0.9, 0.8]), 0.4)
    assert kept[:, ROW.box].tolist() == [a]


def test_suppression_over_the_smaller_box_removes_a_box_inside_another():
    big, inside = [0, 0, 20, 20], [2, 2, 8, 8]
    rows = _rows([big, inside], [0.9, 0.8])
    assert len(suppress(rows, 0.5, method="union")) == 2  # IoU 0.09
    assert suppress(rows, 0.5, method="min")[:, ROW.box].tolist() == [big]  # 1.0 of the smaller one


def test_suppression_in_blocks_agrees_with_one_whole_matrix():
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 400, (1300, 2))
    rows = _rows(np.hstack([corners, corners + rng.uniform(8, 60, (1300, 2))]), rng.uniform(0, 1, 1300))
    kept = suppress(rows, 0.5)
    boxes = kept[:, ROW.box]
    w = np.maximum(0, np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0]))
    h = np.maximum(0, np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1]))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    iou = w * h / (area[:, None] + area[None, :] - w * h)
    assert 50 < len(kept) < 1300 and np.all(np.diff(kept[:, ROW.score]) <= 0)
    assert not np.any(np.triu(iou, k=1) > 0.5)


def test_pyramid_starts_at_the_search_size_and_stops_above_pnets_window():
    scales = pyramid_scales(360, 480, 16)
    assert scales[0] == pytest.approx(12 / 16)
    assert np.allclose(scales[1:] / scales[:-1], 0.709)
    assert 12 <= 360 * scales[-1] < 12 / 0.709 ** 2
    assert len(pyramid_scales(12, 12, 12)) == 0


def test_a_pnet_hit_is_a_window_of_twelve_pixels_at_twice_its_position():
    probs = np.zeros((1, 6, 8, 2), np.float32)
    probs[0, 3, 5, 1], probs[0, 1, 1, 1] = 0.95, 0.7
    offsets = np.zeros((1, 6, 8, 4), np.float32)
    offsets[0, 1, 1] = [0.1, 0, 0, -0.1]
    rows = pnet_boxes(offsets, probs, 0.5, threshold=0.6)
    assert rows[:, ROW.score].tolist() == pytest.approx([0.95, 0.7])
    assert rows[0, ROW.box].tolist() == [22, 14, 44, 36]  # [11, 7, 22, 18] at half size
    assert rows[1, ROW.box].tolist() == pytest.approx([2 * (3 + 1.1), 6, 28, 2 * (14 - 1.1)])


def test_square_keeps_the_centre_and_regression_scales_by_the_size_plus_one():
    square = squared(_rows([[10, 20, 30, 60]], [0.9]))
    assert square[0, ROW.box].tolist() == [0, 20, 40, 60]
    moved = regressed(square, np.array([[0.5, 0, 0, -0.5]]))
    assert moved[0, ROW.box].tolist() == [20.5, 20, 40, 39.5]


def test_a_patch_of_the_whole_image_at_its_own_size_is_the_image():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    patch = crop_patches(image, np.array([[0.0, 0, 16, 16]]), 16)
    assert patch.dtype == np.float32 and np.array_equal(patch[0], image)


def test_a_patch_is_black_where_it_leaves_the_image():
    image = np.full((20, 20, 3), 200, np.uint8)
    patches = crop_patches(image, np.array([[-20.0, 0, 20, 20], [40, 40, 60, 60]]), 24)
    assert np.all(patches[0, :, :11] == 0) and np.all(patches[0, :, 13:] == 200)
    assert np.all(patches[1] == 0)


def test_no_pnet_hit_is_no_rows_and_rnet_is_never_called():
    def pnet(images):
        h, w = images.shape[1:3]
        return [np.zeros((1, h // 2 - 5, w // 2 - 5, 2), np.float32), np.zeros((1, h // 2 - 5, w // 2 - 5, 4))]

    def unreachable(patches):
        raise AssertionError("called without candidates")

    image = np.zeros((60, 80, 3), np.uint8)
    rows = run_pipeline(Networks(pnet, unreachable, unreachable), image, image, 1.0, search_px=16,
                        thresholds=(0.6, 0.7, 0.8))
    assert rows.shape == (0, ROW.width) and rows.dtype == np.float32


# --- against TensorFlow's ops and the package's own functions (imports TensorFlow) ---


@pytest.fixture(scope="module")
def tf():
    from facecore.app import load_tensorflow

    load_tensorflow()
    import tensorflow

    return tensorflow


def test_patches_are_tensorflows_crop_and_resize(tf):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    corners = rng.uniform(-30, 150, (40, 2))
    boxes = np.hstack([corners, corners + rng.uniform(3, 80, (40, 1))])  # squares, some partly outside
    for size in (24, 48):
        ours = crop_patches(image, boxes, size)
        theirs = tf.image.crop_and_resize(image[None], boxes[:, [1, 0, 3, 2]] / [120, 160, 120, 160],
                                          np.zeros(40, np.int32), (size, size)).numpy()
        assert np.abs(ours - theirs).max() < 1e-3


def test_pyramid_levels_are_tensorflows_area_resize(tf):
    import cv2

    image = (np.random.default_rng(2).uniform(0, 255, (270, 480, 3)).astype(np.float32) - 127.5) / 128
    for scale in pyramid_scales(270, 480, 16):
        size = (np.array([270, 480]) * scale).astype(int)
        theirs = tf.image.resize(image[None], np.array([270, 480]) * scale, method="area").numpy()[0]
        ours = cv2.resize(image, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() < 1e-4


def test_boxes_and_suppression_are_the_packages(tf):
    from mtcnn.utils.bboxes import generate_bounding_box, smart_nms_from_bboxes, upscale_bboxes
    from mtcnn.utils.images import build_scale_pyramid

    rng = np.random.default_rng(4)
    probs = rng.uniform(0, 1, (1, 40, 50, 2)).astype(np.float32)
    offsets = rng.normal(0, 0.1, (1, 40, 50, 4)).astype(np.float32)
    theirs = upscale_bboxes(generate_bounding_box(tf.constant(offsets), tf.constant(probs), 0.6), np.array([0.4]))
    ours = pnet_boxes(offsets, probs, 0.4, 0.6)
    assert np.array_equal(ours, theirs)
    for method in ("union", "min"):
        assert np.array_equal(suppress(ours, 0.5, method), smart_nms_from_bboxes(theirs, 0.5, method=method))
    assert np.array_equal(pyramid_scales(333, 517, 13), build_scale_pyramid(517, 333, 13, 0.709))
