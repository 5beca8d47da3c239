"""Under ``--engine ray`` on a CPU, a camera actor and a recogniser replica run on LiteRT: built in
a real Ray worker process from the converted cache, they import neither TensorFlow nor Keras."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from helpers import REPO, VIDEOS, need

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
HEAVY = ("tensorflow", "keras", "mtcnn", "tf_keras", "h5py")


def _built_in_a_worker(config, clip: str) -> dict:
    """In a Ray worker: build the replica and a camera actor's parts as the engine does, detect and
    recognise one frame, and say which heavy packages the process imported."""
    import sys

    from facecore.camera import Camera
    from facecore.source_names import SourceSpec
    from realtime.engine.ray_parts import CameraWorker, RecognizerReplica

    replica = RecognizerReplica(config)
    worker = CameraWorker(SourceSpec("obama", clip), config, None, None)
    with Camera(clip) as camera:
        frame = next(iter(camera)).image
    faces = worker.detector.detect(frame)
    names = replica.recognizer.recognize(frame, faces).names
    return {"names": list(names), "heavy": sorted(m for m in HEAVY if m in sys.modules)}


@pytest.mark.slow
@pytest.mark.ray
def test_camera_actor_and_recogniser_replica_import_no_tensorflow(facenet_config, enrolled_bundle, facenet_models):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    need(OBAMA)
    # facenet_models built the session's models on LiteRT (the default on a CPU): the cache is there
    assert facenet_models.backbone.compiled and type(facenet_models.backbone).__name__ == "LiteBackbone"
    paths = (REPO, REPO / "tests", Path(__file__).parent)  # the worker imports this module for the function
    config = facenet_config.replace(train={"model": str(enrolled_bundle)}, faces={"folder": ""})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(map(str, paths)), "CUDA_VISIBLE_DEVICES": "-1"}})
    try:
        found = ray.get(ray.remote(_built_in_a_worker).remote(config, str(OBAMA)), timeout=300)
    finally:
        ray.shutdown()
    assert found["heavy"] == []
    assert np.array_equal(found["names"], ["obama"])
