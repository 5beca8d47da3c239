"""Shared fixtures: real data from ../shared, and the expensive models built once per session."""

from __future__ import annotations

import fcntl
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from helpers import FACENET_H5, need  # noqa: E402


@pytest.fixture(scope="session")
def facenet_config():
    """Config with the facenet backbone and the centroid head (skips without the weights)."""
    from facecore.config import load_config

    need(FACENET_H5)
    return load_config(None, ["backbone.name=facenet", f"backbone.weights={FACENET_H5}"])


@pytest.fixture(scope="session")
def facenet_models(facenet_config):
    """MTCNN detector and facenet backbone, built once for the whole session."""
    from facecore.models import Models

    return Models.build(facenet_config)


@pytest.fixture(scope="session")
def detector():
    from facecore.config import DetectorConfig
    from facecore.detector import Detector

    return Detector(DetectorConfig())


@pytest.fixture(scope="session")
def litert_cache(tmp_path_factory, facenet_config):
    """A folder holding facenet converted for LiteRT (converted once for the whole session: ~20 s)."""
    from facecore.litert.backbone import backbone_file

    folder = tmp_path_factory.mktemp("litert-cache")
    backbone_file(facenet_config.backbone, folder)
    return folder


@pytest.fixture(autouse=True)
def _one_ray_at_a_time(request, tmp_path_factory):
    """Under pytest-xdist (``-n 2``), tests on a real Ray (marker ``ray``) take turns across the
    workers: two local Rays at once would crowd 2 cores, and those tests look for Ray processes
    left behind. The lock file lies in the run's temporary root, shared by its workers; without
    workers nothing is locked."""
    if request.node.get_closest_marker("ray") is None or "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    with open(tmp_path_factory.getbasetemp().parent / "ray.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield
