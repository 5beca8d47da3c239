"""Heads and calibration on constructed features (the end-to-end tests use real faces)."""

from __future__ import annotations

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
