"""Faces: validated on creation, sliced by mask or index."""

from __future__ import annotations

import numpy as np
import pytest

from facecore.faces import Faces


def make(n: int) -> Faces:
    boxes = np.array([[10 * i, 0, 10 * i + 8, 9] for i in range(n)], np.float32)
    return Faces(boxes, scores=np.linspace(0.5, 1, n), names=[f"p{i}" for i in range(n)])


def test_defaults_and_shapes():
    f = make(3)
    assert f.boxes.dtype == np.float32 and f.boxes.shape == (3, 4)
    assert f.landmarks.shape == (3, 5, 2)
    assert list(f.track_ids) == [-1, -1, -1]
    assert len(Faces.empty()) == 0 and Faces.empty().boxes.shape == (0, 4)


def test_mask_and_index_slicing_keep_rows_together():
    f = make(4)
    sub = f[np.array([True, False, True, False])]
    assert list(sub.names) == ["p0", "p2"]
    assert np.allclose(sub.boxes[:, 0], [0, 20])
    assert list(f[[3]].names) == ["p3"]
    with pytest.raises(IndexError):
        f[np.array([True, False])]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"boxes": [[5, 5, 1, 9]]},
        {"boxes": [[0, 0, 1, 1]], "scores": [0.5, 0.7]},
        {"boxes": [[0, 0, np.nan, 1]]},
        {"boxes": [[0, 0, 2, 2]], "landmarks": np.zeros((1, 4, 2))},
    ],
)
def test_invalid_columns_raise(kwargs):
    with pytest.raises(ValueError):
        Faces(**kwargs)


def test_scaled_maps_boxes_and_landmarks():
    f = Faces([[1, 2, 3, 4]], landmarks=np.ones((1, 5, 2)))
    g = f.scaled(2.0)
    assert np.allclose(g.boxes, [[2, 4, 6, 8]]) and np.allclose(g.landmarks, 2)
    assert np.allclose(f.boxes, [[1, 2, 3, 4]])
