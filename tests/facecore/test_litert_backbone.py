"""The backbone run by LiteRT: TensorFlow's features, from a converted model cached once."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from facecore.backbones import build_backbone
from facecore.config import load_config
from facecore.litert.backbone import LiteBackbone, build_lite_backbone
from facecore.runtime import gpu_visible, litert_threads, resolve_runtime


def _rec(**values):
    return load_config(None, [f"recognition.{k}={v}" for k, v in values.items()]).recognition


@pytest.mark.parametrize("runtime, device, gpu, want", [
    ("litert", "gpu", True, "litert"),
    ("tensorflow", "cpu", False, "tensorflow"),
    ("auto", "cpu", True, "litert"),
    ("auto", "gpu", False, "tensorflow"),
    ("auto", "auto", False, "litert"),
    ("auto", "auto", True, "tensorflow"),
])
def test_auto_is_litert_unless_a_gpu_is_used(runtime, device, gpu, want, tmp_path, monkeypatch):
    monkeypatch.setattr("facecore.runtime.gpu_visible", lambda environ: gpu)
    assert resolve_runtime(_rec(runtime=runtime, device=device)) == want


def test_a_gpu_is_visible_by_its_device_file_unless_cuda_hides_it(tmp_path):
    (tmp_path / "nvidia0").touch()
    pattern = str(tmp_path / "nvidia[0-9]*")
    assert gpu_visible({}, pattern) and gpu_visible({"CUDA_VISIBLE_DEVICES": "0"}, pattern)
    assert not gpu_visible({"CUDA_VISIBLE_DEVICES": "-1"}, pattern) and not gpu_visible({"CUDA_VISIBLE_DEVICES": ""}, pattern)
    assert not gpu_visible({}, str(tmp_path / "nvidiactl[0-9]*"))


def test_threads_given_or_chosen_within_the_cores():
    assert litert_threads(_rec(threads=3)) == 3
    assert 1 <= litert_threads(_rec()) <= 2


@pytest.mark.slow
def test_litert_features_are_tensorflows(facenet_config, litert_cache, caplog):
    tensorflow = build_backbone(facenet_config.backbone)
    with caplog.at_level(logging.INFO):
        lite = build_lite_backbone(facenet_config.backbone, (1, 2, 4, 8, 16), 2, litert_cache)
    assert isinstance(lite, LiteBackbone) and caplog.records == []  # read from the cache: nothing converted
    assert lite.output_shape == (128,) and lite.weights_id == tensorflow.weights_id
    crops = np.random.default_rng(0).integers(0, 256, (19, 160, 160, 3)).astype(np.uint8)
    assert [size for *_, size in lite.batch_plan(19)] == [16, 3]  # never padded
    for n, mirror in ((0, False), (1, False), (5, True), (19, False)):
        want = tensorflow.features(crops[:n], mirror=mirror)
        got = lite.features(crops[:n], mirror=mirror)
        assert got.shape == want.shape == (n, 128) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=1e-5)
