"""The LiteRT runner: any batch size, outputs in the converted model's order, the Keras model's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from facecore.errors import ModelError
from facecore.litert.runner import Runner


@pytest.fixture(scope="module")
def two_outputs(tmp_path_factory):
    """A small Keras model with two outputs of different widths, converted; (path, keras model)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(7)
    inputs = keras.Input((6, 6, 3))
    conv = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    flat = keras.layers.Flatten()(conv)
    model = keras.Model(inputs, [keras.layers.Dense(2)(flat), keras.layers.Dense(5)(flat)])
    path = tmp_path_factory.mktemp("litert") / "two.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path, model


def test_outputs_match_keras_in_order_for_any_batch(two_outputs):
    path, model = two_outputs
    runner = Runner(path, threads=1)
    assert runner.input_shapes == [(-1, 6, 6, 3)]
    rng = np.random.default_rng(0)
    for n in (1, 3, 8, 3):
        batch = rng.uniform(0, 1, (n, 6, 6, 3)).astype(np.float32)
        got = runner(batch)
        want = [np.asarray(w) for w in model(batch)]
        assert [g.shape for g in got] == [(n, 2), (n, 5)]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-5)


def test_resized_only_when_the_shape_changes(two_outputs, monkeypatch):
    runner = Runner(two_outputs[0])
    allocations = []
    original = runner._interpreter.allocate_tensors
    monkeypatch.setattr(runner._interpreter, "allocate_tensors", lambda: (allocations.append(1), original())[1])
    for n in (2, 2, 4, 4, 2):
        runner(np.zeros((n, 6, 6, 3), np.uint8))  # cast to the input's float32
    assert len(allocations) == 3


def test_the_wrong_number_of_inputs_is_refused(two_outputs):
    with pytest.raises(ValueError, match="takes 1 inputs"):
        Runner(two_outputs[0])(np.zeros((1, 6, 6, 3)), np.zeros((1, 6, 6, 3)))


def test_a_file_that_is_no_model_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(ModelError, match="LiteRT cannot load"):
        Runner(bad)
