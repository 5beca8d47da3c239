"""``Decision`` as one object: its length, selection by mask, indices and slice, and ``split``
back into the parts of a batched call (the engine and the Ray replica cut results with it)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from facecore.faces import UNKNOWN
from facecore.recognizer import Decision


def five(features: bool = True) -> Decision:
    names = np.array(["ann", UNKNOWN, "bob", "cy", UNKNOWN], object)
    return Decision(names, np.array([0.9, 0.2, 0.8, 0.7, 0.1], np.float32),
                    np.array(["ann", "bob", "bob", "cy", "ann"], object),
                    np.arange(15, dtype=np.float32).reshape(5, 3) if features else None)


def test_length_and_selection_by_mask_indices_and_slice_keep_every_column_together():
    d = five()
    assert len(d) == 5
    picked = d[np.array([True, False, True, False, False])]
    assert list(picked.names) == ["ann", "bob"] and list(picked.best) == ["ann", "bob"]
    np.testing.assert_allclose(picked.confidences, [0.9, 0.8])
    np.testing.assert_array_equal(picked.features, [[0, 1, 2], [6, 7, 8]])
    again = d[[3, 0]]
    assert list(again.names) == ["cy", "ann"] and again.features[0, 0] == 9
    assert list(d[1:3].names) == [UNKNOWN, "bob"] and list(d[1:3].best) == ["bob", "bob"]
    assert len(d[2]) == 1 and d[2].names[0] == "bob"
    assert five(features=False)[[0, 1]].features is None


def test_a_mask_of_the_wrong_length_and_columns_of_different_lengths_are_refused():
    with pytest.raises(IndexError, match="expected shape"):
        five()[np.array([True, False])]
    with pytest.raises(ValueError, match="3 names"):
        Decision(np.array(["a", "b", "c"], object), np.zeros(2, np.float32), np.array(["a", "b", "c"], object))


def test_split_returns_the_parts_in_order_including_empty_ones():
    parts = five().split([2, 0, 3])
    assert [len(p) for p in parts] == [2, 0, 3]
    assert [list(p.names) for p in parts] == [["ann", UNKNOWN], [], ["bob", "cy", UNKNOWN]]
    np.testing.assert_array_equal(np.concatenate([p.features for p in parts]), five().features)
    assert parts[1].features.shape == (0, 3)


@pytest.mark.parametrize("sizes", [[2, 2], [3, 3], [6, -1]])
def test_split_refuses_sizes_that_do_not_add_up(sizes):
    with pytest.raises(ValueError, match="do not add up"):
        five().split(sizes)


def test_unknown_names_every_face_unknown_and_a_decision_survives_pickling():
    d = Decision.unknown(3)
    assert list(d.names) == [UNKNOWN] * 3 and not d.confidences.any() and len(d) == 3
    back = pickle.loads(pickle.dumps(five()))  # what a Ray replica sends to a camera
    assert list(back.names) == list(five().names) and back.features.shape == (5, 3)
