"""The vgg16 backbone end to end without network: random weights, and a weights file on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enroll.evaluation import evaluate
from enroll.training import train
from facecore.models import Models
from facecore.backbones import build_backbone
from facecore.config import load_config
from facecore.errors import ModelError
from helpers import VIDEOS, copy_people, lfw_people, need, run_command


@pytest.fixture(scope="module")
def vgg_none():
    config = load_config(None, ["backbone.weights=none", "recognition.runtime=tensorflow"])  # the Keras model is looked into
    return config, Models.build(config)


@pytest.mark.slow  # VGG16 trained and evaluated end to end (the default backbone's one such test)
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


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
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


def _offline(tmp_path) -> dict:
    """An empty Keras cache in ``tmp_path`` and every download sent to a closed local port: no
    weights, and certainly no network."""
    dead = "http://127.0.0.1:9"
    return {"HOME": str(tmp_path / "home"), "KERAS_HOME": str(tmp_path / "keras"), "FACECAM_HOME": "",
            "http_proxy": dead, "https_proxy": dead, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "no_proxy": "",
            "NO_PROXY": ""}


def _both_ways_forward(line: str, keras: Path) -> None:
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in line and f"{keras / 'models'}/" in line
    assert "face-enroll weights facenet" in line and "--set backbone.name=facenet" in line
    assert "http" not in line and "Traceback" not in line


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_without_vgg16_weights_capture_and_import_refuse_before_anyone_poses(tmp_path):
    clip, still = need(VIDEOS / "obama-biden" / "obama.mp4"), need(VIDEOS / "obama-biden" / "enroll" / "obama")
    commands = (["capture", "Barack Obama", "--source", str(clip), "--headless"], ["import", "Barack Obama", str(still)])
    for args in commands:
        done = run_command("enroll.cli", *args, env=_offline(tmp_path), cwd=tmp_path, timeout=300)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("face-enroll: error: cannot get the VGG16 ImageNet weights")
        assert "nothing done yet" in lines[0]
        _both_ways_forward(lines[0], tmp_path / "keras")
        assert not (tmp_path / "data").exists() and not (tmp_path / "models").exists()


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_weights_that_fail_after_the_photos_are_added_say_the_photos_are_kept(tmp_path):
    """A damaged file in the Keras cache passes the check at start; Keras then tries to download it
    again (offline: fails) when the model is retrained."""
    env = _offline(tmp_path)
    cached = tmp_path / "keras" / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"damaged")
    still = need(VIDEOS / "obama-biden" / "enroll" / "obama" / "obama.jpg")
    done = run_command("enroll.cli", "import", "Barack Obama", str(still), "--relax", env=env, cwd=tmp_path,
                       timeout=300)
    assert done.returncode == 1, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    folder = Path("data/people/Barack Obama")
    assert line.startswith(f"face-enroll: error: the photos of Barack Obama are kept in {folder}; "
                           "face-enroll train finishes the job once the backbone's weights are there"), line
    _both_ways_forward(line, tmp_path / "keras")
    assert len(list((tmp_path / folder).glob("*.jpg"))) == 1 and not (tmp_path / "models").exists()
