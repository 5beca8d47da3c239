"""Heads and calibration on constructed features (the end-to-end tests use real faces)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from facecore.config import HeadConfig
from facecore.heads import calibrate_threshold, load_head, make_head, unit_features


def clusters(k=4, per=6, dim=16, spread=0.15, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    x = np.concatenate([c + spread * rng.normal(size=(per, dim)) for c in centres]).astype(np.float32)
    return x, np.repeat(np.arange(k), per)


def test_unit_features_pools_maps():
    maps = np.ones((2, 3, 3, 8), np.float32)
    u = unit_features(maps)
    assert u.shape == (2, 8) and np.allclose(np.linalg.norm(u, axis=1), 1)


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
@pytest.mark.parametrize("kind", ["centroid", "linear", "mlp"])
def test_heads_learn_and_round_trip(kind):
    x, y = clusters()
    cfg = HeadConfig(kind=kind, hidden=[16, 8], epochs=60, batch_size=8, learning_rate=0.01)
    head = make_head(cfg, seed=1)
    head.fit(x, y, 4)
    s = head.scores(x)
    assert s.shape == (len(x), 4) and s.min() >= 0 and s.max() <= 1
    assert np.mean(s.argmax(axis=1) == y) == 1.0
    again = load_head(kind, head.arrays(), cfg)
    assert np.allclose(again.scores(x), s, atol=1e-5)


def test_centroid_impostor_scores_ignore_own_person():
    x, y = clusters()
    head = make_head(HeadConfig(kind="centroid"))
    head.fit(x, y, 4)
    imp = head.impostor_scores(x, y, 4)
    own = head.scores(x)[np.arange(len(y)), y]
    assert imp.shape == (len(x),) and np.all(imp < own)


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_softmax_impostor_scores_come_from_held_out_people():
    x, y = clusters(k=5)
    head = make_head(HeadConfig(kind="linear", epochs=30, learning_rate=0.01), seed=1)
    imp = head.impostor_scores(x, y, 5, folds=2)  # two fits, each holding out two or three people
    assert imp.shape == (len(x),) and np.all((imp > 0) & (imp <= 1))
    assert make_head(HeadConfig(kind="linear")).impostor_scores(x[y < 2], y[y < 2], 2).size == 0


def test_calibrate_threshold_bounds_false_accepts():
    imp = np.linspace(0, 1, 1000)
    t = calibrate_threshold(imp, 0.01, fallback=0.5)
    assert np.mean(imp >= t) <= 0.01
    assert np.mean(imp >= t - 0.002) > 0.01  # not needlessly high
    assert calibrate_threshold([], 0.01, fallback=0.42) == 0.42
    assert calibrate_threshold([0.3, 0.9], 0.0, fallback=0.5) > 0.9


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_numpy_scores_are_the_keras_models_own(kind):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 2, 2, 16)).astype(np.float32)  # feature maps: the mlp flattens them
    y = np.arange(12) % 3
    head = make_head(HeadConfig(kind=kind, hidden=[32, 8], epochs=5, batch_size=4, learning_rate=0.01), seed=2)
    head.fit(x, y, 3)
    keras_scores = np.asarray(head.model.predict_on_batch(head._prepare(x)))
    np.testing.assert_allclose(head.scores(x), keras_scores, atol=1e-5)


def test_a_loaded_head_scores_without_keras(tmp_path):
    x, y = clusters(k=3, per=4, dim=8)
    head = make_head(HeadConfig(kind="mlp", hidden=[8], epochs=3, batch_size=4), seed=1)
    head.fit(x, y, 3)
    np.savez(tmp_path / "head.npz", **head.arrays())
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np\n"
        "from facecore.config import HeadConfig\n"
        "from facecore.heads import load_head\n"
        "arrays = dict(np.load(sys.argv[1] + '/head.npz'))\n"
        "scores = load_head('mlp', arrays, HeadConfig(kind='mlp', hidden=[8])).scores(np.load(sys.argv[1] + '/x.npy'))\n"
        "np.save(sys.argv[1] + '/scores.npy', scores)\n"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"), head.scores(x), atol=1e-6)
