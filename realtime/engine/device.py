"""Choosing where the networks run: ``auto`` (a GPU when one is visible), ``cpu`` or ``gpu``.

Call :func:`select_device` before any model is built. When the configuration's runtime is
LiteRT here (``facecore.runtime``: on a CPU by default), the networks run on the CPU and
TensorFlow is not even imported. Otherwise TensorFlow is set up: on a GPU it turns on memory
growth (otherwise TensorFlow takes all GPU memory at its first operation); for ``cpu`` on a
machine with a GPU it hides the GPUs from TensorFlow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from facecore.app import load_tensorflow
from facecore.config import RecognitionConfig
from facecore.errors import ConfigError, FacecamError, UsageError
from facecore.runtime import resolve_runtime

__all__ = ["Device", "select_device", "DEVICE_CHOICES"]

log = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class Device:
    """``kind``: ``cpu`` or ``gpu``; ``name``: a TensorFlow device (``CPU:0``, ``GPU:0``) for the
    detector; ``description``: the line shown at start."""

    kind: str
    name: str
    description: str


def _hide_gpus(tf_config, gpus: list) -> None:
    if not gpus:
        return
    try:
        tf_config.set_visible_devices([], "GPU")
    except RuntimeError as exc:  # TensorFlow already initialised its devices
        log.warning("cannot hide the GPU from TensorFlow any more (%s)", exc)


def _grow(tf_config, gpus: list) -> bool:
    """Turn on memory growth on every GPU; False when TensorFlow was already initialised."""
    try:
        for gpu in gpus:
            tf_config.experimental.set_memory_growth(gpu, True)
        return True
    except RuntimeError as exc:
        log.warning("cannot turn on GPU memory growth (%s)", exc)
        return False


def select_device(choice: str = "auto", tf_config=None, runtime: str = "auto") -> Device:
    """Set the device up for ``choice`` and the configured ``runtime`` (``recognition.runtime``)
    and say which device is used.

    ``tf_config`` defaults to ``tf.config`` (tests of the GPU path pass a stand-in, as
    no GPU is there to run them). ``gpu`` without a visible GPU is an error (exit 1).
    """
    if choice not in DEVICE_CHOICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICE_CHOICES)}, got {choice!r}")
    if tf_config is None and resolve_runtime(RecognitionConfig(device=choice, runtime=runtime)) == "litert":
        if choice == "gpu":
            raise ConfigError("--device gpu: recognition.runtime = \"litert\" runs on the CPU only; use "
                              "runtime \"auto\" or \"tensorflow\" for the GPU")
        return Device("cpu", "CPU:0", "CPU (LiteRT)")
    if tf_config is None:
        load_tensorflow()  # its start-up lines kept off the terminal
        import tensorflow as tf

        tf_config = tf.config
    gpus = list(tf_config.list_physical_devices("GPU"))
    if choice == "gpu" and not gpus:
        raise FacecamError("--device gpu: TensorFlow sees no GPU here; use --device auto or cpu")
    if choice == "cpu" or not gpus:
        _hide_gpus(tf_config, gpus)
        return Device("cpu", "CPU:0", "CPU")
    growth = "on" if _grow(tf_config, gpus) else "off"
    more = f", {len(gpus)} GPUs visible" if len(gpus) > 1 else ""
    return Device("gpu", "GPU:0", f"GPU:0 (memory growth {growth}{more})")
