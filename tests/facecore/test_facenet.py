"""Tests for facecore.facenet: the Keras-2 FaceNet file rebuilt in Keras 3.

Needs ../shared/models/facenet_keras.h5 (not committed) for the model tests and real LFW
photos in ../shared/data/lfw-dev for the identity test; each skips with a reason when absent.
"""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from facecore.facenet import FACENET_EMBEDDING_DIM, FACENET_INPUT_SIZE, build_facenet

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODEL_PATH = SHARED / "models" / "facenet_keras.h5"
LFW_DIR = SHARED / "data" / "lfw-dev"
PEOPLE = ("Roger_Federer", "Serena_Williams", "Nicole_Kidman", "Vicente_Fox", "Saddam_Hussein")
IMAGES_PER_PERSON = 3


@pytest.fixture(scope="module")
def model():
    if not MODEL_PATH.is_file():
        pytest.skip(f"../shared/models/facenet_keras.h5 not found: {MODEL_PATH}")
    return build_facenet(MODEL_PATH)


def _embed(model, images: np.ndarray) -> np.ndarray:
    """Embed in full batches of 8 (zero-padded) so predict is traced once per dtype: quicker."""
    padded = np.concatenate([images, np.zeros((-len(images) % 8, *images.shape[1:]), images.dtype)])
    return np.asarray(model.predict(padded, batch_size=8, verbose=0))[:len(images)]


def _lfw_faces() -> tuple[np.ndarray, np.ndarray]:
    """RGB face crops (n, 160, 160, 3) float32 0..255 and person labels (n,)."""
    cv2 = pytest.importorskip("cv2")
    faces, labels = [], []
    for label, person in enumerate(PEOPLE):
        files = sorted((LFW_DIR / person).glob("*.jpg"))[:IMAGES_PER_PERSON]
        if len(files) < IMAGES_PER_PERSON:
            pytest.skip(f"LFW photos of {person} not found under {LFW_DIR}")
        for file in files:
            bgr = cv2.imread(str(file))
            h, w = bgr.shape[:2]
            # The labelled face is centred: keep the middle 44% (about [42:108] of 150 px).
            crop = bgr[int(0.28 * h):int(0.72 * h), int(0.28 * w):int(0.72 * w), ::-1]
            size = (FACENET_INPUT_SIZE, FACENET_INPUT_SIZE)
            faces.append(cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_LINEAR))
            labels.append(label)
    return np.stack(faces).astype(np.float32), np.array(labels)


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_output_shape_dtype_and_unit_norm(model):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, FACENET_INPUT_SIZE, FACENET_INPUT_SIZE, 3)).astype(np.float32)
    images[2] = 128.0  # flat image: std is 0, the prewhiten floor must keep it finite
    embeddings = _embed(model, images)
    assert embeddings.shape == (3, FACENET_EMBEDDING_DIM)
    assert embeddings.dtype == np.float32
    assert np.all(np.isfinite(embeddings))
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_standardisation_is_inside_the_model(model):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, FACENET_INPUT_SIZE, FACENET_INPUT_SIZE, 3), dtype=np.uint8)
    pixels = images.astype(np.float32)
    # A brightness/contrast change is removed by the per-image standardisation.
    base, shifted = np.split(_embed(model, np.concatenate([pixels, pixels * 0.5 + 40.0])), 2)
    np.testing.assert_allclose(shifted, base, atol=1e-3)
    np.testing.assert_allclose(_embed(model, images), base, atol=1e-5)  # uint8 input


def test_same_person_closer_than_different_people(model):
    faces, labels = _lfw_faces()
    embeddings = _embed(model, faces)
    cosine = embeddings @ embeddings.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    same_mean = cosine[same & off_diagonal].mean()
    different_mean = cosine[~same].mean()
    # Measured on this set: same 0.77 (min 0.57), different 0.09 (max 0.58), 1-NN 100%.
    assert same_mean > 0.6, same_mean
    assert different_mean < 0.3, different_mean
    nearest = np.where(off_diagonal, cosine, -np.inf).argmax(axis=1)
    assert np.mean(labels[nearest] == labels) >= 0.9


def test_missing_file_raises_file_not_found(tmp_path):
    missing = tmp_path / "no_such_facenet.h5"
    with pytest.raises(FileNotFoundError, match="no_such_facenet.h5"):
        build_facenet(missing)


def test_hdf5_without_model_config_raises_value_error(tmp_path):
    path = tmp_path / "not_a_model.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.zeros(3))
    with pytest.raises(ValueError, match="model_config"):
        build_facenet(path)


def test_unknown_layer_class_raises_value_error(tmp_path):
    path = tmp_path / "odd_model.h5"
    layers = [
        {"name": "input_1", "class_name": "InputLayer", "inbound_nodes": [],
         "config": {"name": "input_1", "batch_input_shape": [None, 160, 160, 3]}},
        {"name": "odd", "class_name": "MysteryLayer", "config": {"name": "odd"},
         "inbound_nodes": [[["input_1", 0, 0, {}]]]},
    ]
    config = {"class_name": "Model", "config": {"name": "m", "layers": layers,
              "input_layers": [["input_1", 0, 0]], "output_layers": [["odd", 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.create_group("model_weights")
    with pytest.raises(ValueError, match="MysteryLayer"):
        build_facenet(path)


def test_non_hdf5_file_raises_value_error(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("not an hdf5 file\n")
    with pytest.raises(ValueError, match="text.h5"):
        build_facenet(path)


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_backbone_runs_small_jobs_eagerly_then_compiles_with_the_same_features(model):
    from facecore.backbones import EAGER_CROPS, Backbone

    faces, _ = _lfw_faces()
    backbone = Backbone("facenet", FACENET_INPUT_SIZE, "test", model, (1, 4, 16))
    eager = backbone.features(faces[:4])
    assert not backbone.compiled  # 4 crops: no graph traced
    rest = backbone.features(np.concatenate([faces] * (1 + EAGER_CROPS // len(faces))))  # past the eager budget
    assert backbone.compiled
    compiled = backbone.features(faces[:4])
    assert np.allclose(eager, compiled, atol=1e-4)
    assert np.allclose(rest[:4], compiled, atol=1e-4)
    fresh = Backbone("facenet", FACENET_INPUT_SIZE, "test", model, (1, 4, 16))
    fresh.warm_up()
    assert fresh.compiled  # warm_up compiles at once (the live loop)


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_folded_batch_norms_give_the_file_layers_embeddings(model):
    """The default build folds each batch normalisation into the convolution or dense layer before
    it (fewer layers: a faster build, trace and run); the embeddings of real faces stay those of
    the file's own layers, built unfolded."""
    plain = build_facenet(MODEL_PATH, fold=False)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "BatchNormalization" not in kinds
    assert sum(type(layer).__name__ == "BatchNormalization" for layer in plain.layers) == 112
    assert len(model.layers) == len(plain.layers) - 112
    faces, _ = _lfw_faces()
    folded, unfolded = _embed(model, faces), _embed(plain, faces)
    assert np.abs(folded - unfolded).max() < 1e-5
    assert (folded * unfolded).sum(axis=1).min() > 0.99999
