"""The vgg16 backbone end to end without network: random weights, and a weights file on disk."""

from __future__ import annotations

import numpy as np
import pytest

from enroll.evaluation import evaluate
from enroll.training import train
from facecore.models import Models
from facecore.backbones import build_backbone
from facecore.config import load_config
from facecore.errors import ModelError
from helpers import copy_people, lfw_people, run_command


@pytest.fixture(scope="module")
def vgg_none():
    config = load_config(None, ["backbone.weights=none"])
    return config, Models.build(config)


def test_vgg16_train_and_eval_with_random_weights(vgg_none, tmp_path):
    config, models = vgg_none
    config = config.replace(train={"cache_dir": str(tmp_path / "cache")}, head={"kind": "mlp", "epochs": 3})
    data = copy_people(tmp_path / "people", lfw_people(["Abdullah_Gul", "Andy_Roddick"], 0, 3))
    result = train(config, data, tmp_path / "model", models=models, progress=False)
    assert result.labels == ["Abdullah_Gul", "Andy_Roddick"]
    assert (result.path / "curves.png").is_file()
    report = evaluate(config, data, result.path, models=models, progress=False).report
    assert report["n"] == 6 and 0.0 <= report["accuracy"] <= 1.0
    assert models.backbone.output_shape == (7, 7, 512)


def test_vgg16_loads_a_local_weights_file(vgg_none, tmp_path):
    _, models = vgg_none
    base = models.backbone.model.get_layer("vgg16")
    path = tmp_path / "vgg16_notop.weights.h5"
    base.save_weights(str(path))
    loaded = build_backbone(load_config(None, [f"backbone.weights={path}"]).backbone)
    assert loaded.weights_id.startswith("sha256:")
    crops = np.random.default_rng(0).integers(0, 255, (2, 224, 224, 3)).astype(np.uint8)
    assert np.allclose(loaded.features(crops), models.backbone.features(crops), atol=1e-4)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        build_backbone(load_config(None, [f"backbone.weights={tmp_path / 'nope.h5'}"]).backbone)
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(ModelError, match="cannot load VGG16 weights"):
        build_backbone(load_config(None, [f"backbone.weights={tmp_path / 'junk.h5'}"]).backbone)


def test_offline_imagenet_download_fails_with_advice(tmp_path):
    data = copy_people(tmp_path / "people", lfw_people(["Abdullah_Gul", "Andy_Roddick"], 0, 2))
    done = run_command("enroll.cli", "train", "--data", str(data), "--model", str(tmp_path / "m"),
                       env={"KERAS_HOME": str(tmp_path / "keras")}, timeout=300)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in lines[-1] and "Traceback" not in done.stderr
    assert not (tmp_path / "m").exists()


def test_mirror_averages_a_crop_with_its_mirror_image(vgg_none):
    _, models = vgg_none
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 255, (2, 224, 224, 3)).astype(np.uint8)
    both = models.backbone.features(crops, mirror=True)
    expect = (models.backbone.features(crops) + models.backbone.features(crops[:, :, ::-1])[:, :, ::-1]) / 2
    assert np.allclose(both, expect, atol=1e-3)  # the mirror's feature maps are flipped back
    assert not np.allclose(both, models.backbone.features(crops), atol=1e-3)
