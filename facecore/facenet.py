"""FaceNet (InceptionResNetV1) face embeddings, rebuilt in Keras 3 from a Keras-2 HDF5 file.

The expected file (``facenet_keras.h5``, Keras 2.1.2) stores the architecture as JSON in the
root attribute ``model_config`` and the weights under ``model_weights/<layer>/``. Keras 3
cannot load it directly: its ``Lambda`` layers hold marshalled Python bytecode. This module
never touches that bytecode. It walks the JSON layer list, builds each layer from a
whitelisted subset of its config, replaces every ``Lambda`` (a scaled residual sum,
``inputs[0] + inputs[1] * scale``) with :class:`ScaledResidual`, and copies the weights in by
layer name with h5py.

The returned model includes FaceNet's per-image standardisation ("prewhiten") before the
network and L2 normalisation after it, so callers feed raw RGB pixels.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path

import h5py
import keras
import numpy as np
from keras import ops

__all__ = ["FACENET_INPUT_SIZE", "FACENET_EMBEDDING_DIM", "build_facenet"]

logger = logging.getLogger(__name__)

FACENET_INPUT_SIZE = 160
FACENET_EMBEDDING_DIM = 128

_ACTIVATIONS = frozenset({"linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus"})
_POOL_KEYS = ("pool_size", "strides", "padding", "data_format")

# Keras-2 class name -> (Keras 3 class, config keys carried over). Everything else is dropped.
_SIMPLE_LAYERS = {
    "Conv2D": (keras.layers.Conv2D, ("filters", "kernel_size", "strides", "padding",
                                     "data_format", "dilation_rate", "activation", "use_bias")),
    "Dense": (keras.layers.Dense, ("units", "activation", "use_bias")),
    "BatchNormalization": (keras.layers.BatchNormalization,
                           ("axis", "momentum", "epsilon", "center", "scale")),
    "Activation": (keras.layers.Activation, ("activation",)),
    "MaxPooling2D": (keras.layers.MaxPooling2D, _POOL_KEYS),
    "AveragePooling2D": (keras.layers.AveragePooling2D, _POOL_KEYS),
    "GlobalAveragePooling2D": (keras.layers.GlobalAveragePooling2D, ("data_format",)),
    "Concatenate": (keras.layers.Concatenate, ("axis",)),
    "Add": (keras.layers.Add, ()),
    "Dropout": (keras.layers.Dropout, ("rate", "noise_shape", "seed")),
    "Flatten": (keras.layers.Flatten, ("data_format",)),
}


@keras.saving.register_keras_serializable(package="facecam")
class ScaledResidual(keras.layers.Layer):
    """Inception-ResNet residual sum ``inputs[0] + inputs[1] * scale`` (two same-shape tensors)."""

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="facecam")
class PerImageStandardization(keras.layers.Layer):
    """FaceNet prewhiten: ``(x - mean) / max(std, 1/sqrt(N))`` per image, N = values per image.

    Input ``(n, h, w, c)`` of any real dtype (cast to float32); output float32, same shape.
    """

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        axes = tuple(range(1, len(x.shape)))
        count = ops.cast(ops.prod(ops.shape(x)[1:]), "float32")
        mean = ops.mean(x, axis=axes, keepdims=True)
        std = ops.maximum(ops.std(x, axis=axes, keepdims=True), ops.rsqrt(count))
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="facecam")
class L2Normalization(keras.layers.Layer):
    """Scale each row of ``(n, d)`` to unit L2 norm (squared norm floored at 1e-12)."""

    def call(self, inputs):
        squared = ops.sum(ops.square(inputs), axis=-1, keepdims=True)
        return inputs * ops.rsqrt(ops.maximum(squared, 1e-12))

    def compute_output_shape(self, input_shape):
        return input_shape


def _config_value(layer_name: str, key: str, value):
    """Accept only JSON scalars or lists of scalars (lists become tuples); reject the rest."""
    if isinstance(value, list) and all(isinstance(v, (int, float, str, bool)) for v in value):
        return tuple(value)
    if value is None or isinstance(value, (int, float, str, bool)):
        if key == "activation" and value not in _ACTIVATIONS:
            raise ValueError(f"layer {layer_name!r}: unsupported activation {value!r}")
        return value
    raise ValueError(f"layer {layer_name!r}: unsupported value for config key {key!r}")


def _make_layer(spec: dict) -> keras.layers.Layer:
    """Create the Keras 3 layer for one Keras-2 layer spec (class_name, config)."""
    class_name, config, name = spec["class_name"], spec["config"], spec["name"]
    if class_name == "Lambda":
        scale = (config.get("arguments") or {}).get("scale")
        if not isinstance(scale, (int, float)) or isinstance(scale, bool):
            raise ValueError(f"Lambda layer {name!r} is not a scaled residual sum (no numeric 'scale')")
        return ScaledResidual(scale, name=name)
    if class_name not in _SIMPLE_LAYERS:
        raise ValueError(f"layer {name!r} has unsupported class {class_name!r}")
    cls, keys = _SIMPLE_LAYERS[class_name]
    kwargs = {k: _config_value(name, k, config[k]) for k in keys if k in config}
    if class_name in ("Conv2D", "Dense"):
        # the file's weights replace the initial values at once: zeros are free to make,
        # while random ones took about a quarter of the build (0.5 s of 2 s)
        kwargs["kernel_initializer"] = "zeros"
    return cls(name=name, **kwargs)


def _inbound_names(spec: dict) -> list[str]:
    """Source layer names of a layer's single inbound node (Keras-2 format)."""
    nodes = spec["inbound_nodes"]
    if len(nodes) != 1:
        raise ValueError(f"layer {spec['name']!r} has {len(nodes)} inbound nodes; expected exactly 1")
    for entry in nodes[0]:
        if entry[1] != 0 or entry[2] != 0:
            raise ValueError(f"layer {spec['name']!r}: shared layers / multi-output inputs unsupported")
    return [entry[0] for entry in nodes[0]]


def _check_input_layer(model_config: dict) -> str:
    """Return the name of the single InputLayer after checking it takes (None, 160, 160, 3)."""
    names = [entry[0] for entry in model_config["input_layers"]]
    specs = [s for s in model_config["layers"] if s["class_name"] == "InputLayer"]
    if len(names) != 1 or len(specs) != 1 or specs[0]["name"] != names[0]:
        raise ValueError("expected a model with exactly one InputLayer")
    shape = specs[0]["config"].get("batch_input_shape")
    expected = [None, FACENET_INPUT_SIZE, FACENET_INPUT_SIZE, 3]
    if shape != expected:
        raise ValueError(f"model input shape is {shape}, expected {expected}")
    return names[0]


def _build_graph(model_config: dict) -> keras.Model:
    """Rebuild the functional graph from Keras-2 ``config`` (layers, input/output layers)."""
    images = keras.Input((FACENET_INPUT_SIZE, FACENET_INPUT_SIZE, 3), dtype="float32", name="images")
    tensors = {_check_input_layer(model_config): PerImageStandardization(name="prewhiten")(images)}
    pending = [s for s in model_config["layers"] if s["class_name"] != "InputLayer"]
    while pending:
        waiting = []
        for spec in pending:
            sources = _inbound_names(spec)
            if not all(src in tensors for src in sources):
                waiting.append(spec)
                continue
            args = [tensors[src] for src in sources]
            tensors[spec["name"]] = _make_layer(spec)(args if len(args) > 1 else args[0])
        if len(waiting) == len(pending):
            raise ValueError(f"cannot resolve inputs of layers {[s['name'] for s in waiting][:5]}")
        pending = waiting
    outputs = model_config["output_layers"]
    if len(outputs) != 1 or outputs[0][0] not in tensors:
        raise ValueError(f"expected exactly one known output layer, got {outputs}")
    embedding = L2Normalization(name="l2_normalize")(tensors[outputs[0][0]])
    if tuple(embedding.shape) != (None, FACENET_EMBEDDING_DIM):
        raise ValueError(f"model output shape is {embedding.shape}, expected (None, {FACENET_EMBEDDING_DIM})")
    return keras.Model(images, embedding, name="facenet")


def _fold_batch_norms(model_config: dict, saved: dict[str, dict[str, np.ndarray]]) -> dict:
    """Fold each BatchNormalization that follows a linear Conv2D or Dense layer, used by nothing
    else, into that layer's kernel and bias (``saved`` is updated); returns the config without
    those layers. The output is the same up to float rounding, and FaceNet loses 112 of its 427
    layers and 336 variables: it builds, compiles and runs faster."""
    layers = model_config["layers"]
    by_name = {spec["name"]: spec for spec in layers}
    uses = Counter(entry[0] for spec in layers for node in spec["inbound_nodes"] for entry in node)
    renamed: dict[str, str] = {}
    for spec in layers:
        source = _foldable_source(spec, by_name, uses, saved)
        if source is None:
            continue
        norm, config = saved.pop(spec["name"]), spec["config"]
        scale = norm.get("gamma", 1.0) / np.sqrt(norm["moving_variance"] + float(config["epsilon"]))
        shift = norm.get("beta", 0.0) - norm["moving_mean"] * scale
        weights = saved[source]
        saved[source] = {"kernel": (weights["kernel"] * scale).astype(np.float32),
                         "bias": (weights.get("bias", 0.0) * scale + shift).astype(np.float32)}
        renamed[spec["name"]] = source

    def rewire(spec: dict) -> dict:
        nodes = [[[renamed.get(entry[0], entry[0]), *entry[1:]] for entry in node] for node in spec["inbound_nodes"]]
        config = {**spec["config"], "use_bias": True} if spec["name"] in renamed.values() else spec["config"]
        return {**spec, "config": config, "inbound_nodes": nodes}

    return {**model_config, "layers": [rewire(spec) for spec in layers if spec["name"] not in renamed],
            "output_layers": [[renamed.get(entry[0], entry[0]), *entry[1:]] for entry in model_config["output_layers"]]}


def _foldable_source(spec: dict, by_name: dict, uses: Counter, saved: dict) -> str | None:
    """The Conv2D/Dense layer that the BatchNormalization ``spec`` can be folded into, if any."""
    if spec["class_name"] != "BatchNormalization" or len(spec["inbound_nodes"]) != 1:
        return None
    node = spec["inbound_nodes"][0]
    source = by_name.get(node[0][0]) if len(node) == 1 else None
    if source is None or source["class_name"] not in ("Conv2D", "Dense") or uses[source["name"]] != 1:
        return None
    if source["config"].get("activation", "linear") != "linear" or spec["config"].get("axis") not in (-1, 3, [-1], [3]):
        return None
    norm, weights = saved.get(spec["name"], {}), saved.get(source["name"], {})
    if not {"moving_mean", "moving_variance"} <= set(norm) or "kernel" not in weights:
        return None
    return source["name"]


def _read_weights(group: h5py.Group) -> dict[str, dict[str, np.ndarray]]:
    """Map layer name -> {weight name ('kernel', 'beta', ...): array} from a ``model_weights`` group."""
    saved = {}
    for raw in group.attrs.get("layer_names", []):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        arrays = {}
        for raw_w in group[name].attrs.get("weight_names", []):
            path = raw_w.decode() if isinstance(raw_w, bytes) else str(raw_w)
            arrays[path.split("/")[-1].split(":")[0]] = np.asarray(group[name][path])
        if arrays:
            saved[name] = arrays
    return saved


def _assign_weights(model: keras.Model, saved: dict[str, dict[str, np.ndarray]]) -> None:
    """Copy saved arrays into the model's variables by layer and variable name; all must match."""
    model_layers = {layer.name: layer for layer in model.layers if layer.weights}
    if set(model_layers) != set(saved):
        missing = sorted(set(model_layers) - set(saved))
        extra = sorted(set(saved) - set(model_layers))
        raise ValueError(f"weights do not match the model: {len(missing)} layers have no weights in the file "
                         f"{missing[:3]}, {len(extra)} weight groups match no layer {extra[:3]}")
    for name, layer in model_layers.items():
        variables = {v.name: v for v in layer.weights}
        if set(variables) != set(saved[name]):
            raise ValueError(f"layer {name!r}: file has {sorted(saved[name])}, model has {sorted(variables)}")
        for var_name, var in variables.items():
            array = saved[name][var_name]
            if tuple(var.shape) != array.shape:
                raise ValueError(f"layer {name!r} weight {var_name!r}: file shape {array.shape}, "
                                 f"model shape {tuple(var.shape)}")
            var.assign(array.astype(var.dtype))
    logger.debug("assigned weights to %d layers", len(model_layers))


def _read_file(path: Path) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """Return (Keras-2 functional ``config``, saved weights) from the HDF5 file."""
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None or "model_weights" not in f:
                raise ValueError(f"{path} is not a Keras model HDF5 file (no model_config/model_weights)")
            spec = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            saved = _read_weights(f["model_weights"])
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"{path} is not a readable Keras HDF5 model "
                         f"({type(exc).__name__}: {reason})") from exc
    if not isinstance(spec, dict) or spec.get("class_name") not in ("Model", "Functional"):
        raise ValueError(f"{path}: model_config is not a Keras functional model")
    if not isinstance(spec.get("config"), dict):
        raise ValueError(f"{path}: model_config has no 'config' mapping")
    return spec["config"], saved


def build_facenet(weights_path: str | os.PathLike, fold: bool = True) -> keras.Model:
    """Build FaceNet from a Keras-2 ``facenet_keras.h5`` file and load its weights.

    The model maps RGB images ``(n, 160, 160, 3)``, float32 values 0..255 (uint8 arrays cast to
    float32 work too; channel order R, G, B), to ``(n, 128)`` float32 embeddings with unit L2
    norm. Per-image standardisation and L2 normalisation are layers inside the model.

    With ``fold`` (the default), batch normalisations are folded into the layers before them
    (:func:`_fold_batch_norms`); ``fold=False`` keeps the file's layers as they are.

    Raises ``FileNotFoundError`` if ``weights_path`` is not a file and ``ValueError`` if the
    file is not a FaceNet-style Keras HDF5 model (no ``model_config``, unknown layer class,
    mismatching weights).
    """
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(f"FaceNet weights file not found: {path}")
    model_config, saved = _read_file(path)
    try:
        model = _build_graph(_fold_batch_norms(model_config, saved) if fold else model_config)
    except (KeyError, TypeError, IndexError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"{path}: malformed model_config ({type(exc).__name__}: {reason})") from exc
    _assign_weights(model, saved)
    logger.debug("built FaceNet from %s: %d layers, %d parameters",
                path, len(model.layers), model.count_params())
    return model
