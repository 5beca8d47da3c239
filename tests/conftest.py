"""Shared fixtures: real data from ../shared, and the expensive models built once per session."""

from __future__ import annotations

import fcntl
import os
from contextlib import ExitStack, contextmanager

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
def _taking_turns(request, tmp_path_factory):
    """Under pytest-xdist (``-n 2``) the workers take turns through lock files in the run's
    temporary root: a test marked ``alone`` runs while the other worker's tests wait (they race
    a real process's timing, which a second test's load upsets), and the tests on a real Ray
    (marker ``ray``) run one at a time: two local Rays at once would crowd 2 cores, and those
    tests look for Ray processes left behind. Without workers nothing is locked."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    root = tmp_path_factory.getbasetemp().parent
    alone = request.node.get_closest_marker("alone") is not None
    with ExitStack() as held:  # always in this order (alone, then ray): no two workers wait on each other
        held.enter_context(_locked(root / "alone.lock", fcntl.LOCK_EX if alone else fcntl.LOCK_SH))
        if request.node.get_closest_marker("ray") is not None:
            held.enter_context(_locked(root / "ray.lock", fcntl.LOCK_EX))
        yield


@contextmanager
def _locked(path, how: int):
    """``path`` (made when missing) locked with ``flock(how)`` while inside."""
    with open(path, "a") as lock:
        fcntl.flock(lock, how)  # released when the file is closed
        yield
