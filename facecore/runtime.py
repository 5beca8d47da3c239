"""Which runtime runs the networks: LiteRT (converted models, no TensorFlow) or TensorFlow.

``recognition.runtime``:

- ``litert``: the backbone and MTCNN's networks run converted (``facecore.litert``), on the CPU;
- ``tensorflow``: they run in TensorFlow, on ``recognition.device``;
- ``auto`` (the default): TensorFlow when a GPU is used, LiteRT otherwise. A GPU is used when
  ``recognition.device`` is ``gpu``, or when it is ``auto`` and an NVIDIA device is visible
  (``/dev/nvidia0`` ...; none when ``CUDA_VISIBLE_DEVICES`` is empty or ``-1``). Deciding
  imports nothing, so a CPU-only process never imports TensorFlow to find out.

``recognition.threads`` is how many CPU threads LiteRT uses; ``0`` chooses :data:`LITERT_THREADS`
(at most the process's cores).
"""

from __future__ import annotations

import glob
import os
from typing import Mapping

from . import backbones
from .backbones import Backbone
from .config import Config, RecognitionConfig
from .detector import FaceDetector, build_detector

__all__ = ["RUNTIMES", "LITERT_THREADS", "gpu_visible", "resolve_runtime", "litert_threads", "runtime_backbone",
           "runtime_detector"]

RUNTIMES = ("auto", "litert", "tensorflow")
LITERT_THREADS = 2  # measured in docs/benchmarks.md (bench.recognize --threads): more gave no more here


def gpu_visible(environ: Mapping[str, str] = os.environ, devices: str = "/dev/nvidia[0-9]*") -> bool:
    """Whether an NVIDIA GPU is there for this process (``devices``: the device files' pattern)."""
    hidden = environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    return bool(glob.glob(devices))


def resolve_runtime(recognition: RecognitionConfig, environ: Mapping[str, str] = os.environ) -> str:
    """``litert`` or ``tensorflow``: the runtime ``recognition`` chooses here (see the module)."""
    if recognition.runtime != "auto":
        return recognition.runtime
    if recognition.device == "cpu":
        return "litert"
    if recognition.device == "gpu":
        return "tensorflow"
    return "tensorflow" if gpu_visible(environ) else "litert"


def litert_threads(recognition: RecognitionConfig) -> int:
    """LiteRT's thread count: ``recognition.threads``, or ``LITERT_THREADS`` (at most the cores)."""
    if recognition.threads > 0:
        return recognition.threads
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(LITERT_THREADS, cores))


def runtime_detector(config: Config, device: str = "CPU:0") -> FaceDetector:
    """``config``'s MTCNN detector, run by the runtime it chooses here (on TensorFlow ``device``
    when TensorFlow runs it)."""
    rec = config.recognition
    return build_detector(config.detector, resolve_runtime(rec), device=device, threads=litert_threads(rec))


def runtime_backbone(config: Config) -> Backbone:
    """``config``'s backbone, run by the runtime it chooses here (``ModelError`` as ``build_backbone``)."""
    rec = config.recognition
    return backbones.build_backbone(config.backbone, rec.batch_sizes, resolve_runtime(rec), litert_threads(rec))

