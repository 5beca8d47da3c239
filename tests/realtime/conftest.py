"""Fixtures for the live loop's tests: a bundle enrolled from the clips' stills, once per session."""

from __future__ import annotations

import pytest

from helpers import VIDEOS, copy_people, need
from live_helpers import ENROLL_DIRS, ENROLLED


@pytest.fixture(scope="session")
def enrolled_bundle(tmp_path_factory, facenet_config, facenet_models):
    """Obama, Biden, Alex Lacamoire and Lin-Manuel Miranda, enrolled from the stills (copied to tmp)."""
    from enroll.training import train

    for folder in ENROLL_DIRS:
        need(VIDEOS / folder)
    root = tmp_path_factory.mktemp("enrolled")
    people = {(VIDEOS / f).name: sorted(p for p in (VIDEOS / f).iterdir() if p.is_file()) for f in ENROLL_DIRS}
    data = copy_people(root / "people", people)
    config = facenet_config.replace(train={"min_images": 1, "cache_dir": str(root / "cache")})
    result = train(config, data, root / "model", models=facenet_models, progress=False)
    assert sorted(result.labels) == list(ENROLLED)
    return result.path


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Each test runs in its own folder: face-live's default paths (data/faces, logs/) land there,
    never in the checkout."""
    monkeypatch.chdir(tmp_path)
