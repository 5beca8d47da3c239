"""Fixtures of the enrollment tests."""

from __future__ import annotations

import pytest

from facecore.models import Models


@pytest.fixture
def prebuilt(monkeypatch, facenet_models):
    """``Models.build`` gives the session's detector and facenet backbone instead of building them
    (building them costs ~10 s a call; nothing else differs)."""
    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config: facenet_models))
    return facenet_models
