"""The Ray engine's parts on fake models (tests/fakes.py), for tests on a real Ray whose subject is
the engine, not the networks: :class:`FakeReplica` stands in for the recogniser deployment, and
:func:`fake_detector` builds each camera actor's detector. The actors import this module and
``fakes`` by name: the test puts ``tests/`` and ``tests/realtime/`` on their ``PYTHONPATH``."""

from __future__ import annotations

import numpy as np
from ray import serve

from fakes import ColourDetector, ColourRecognizer
from realtime.engine.core import recognize_batched
from realtime.engine.ray_parts import ReplicaTally

__all__ = ["FakeReplica", "fake_detector", "KNOWN"]

KNOWN = ["ada", "grace", "alan"]


def fake_detector(config):
    return ColourDetector(config.detector)


class FakeReplica:
    """The recogniser deployment's surface (``spec``, a batched ``recognize``, ``stats``) around a
    :class:`~fakes.ColourRecognizer` of :data:`KNOWN`, whatever bundle the config names."""

    def __init__(self, config) -> None:
        self.recognizer = ColourRecognizer(KNOWN)
        self.tally = ReplicaTally()

    def spec(self) -> dict:
        crop = self.recognizer.crop
        return {"id": "fake", "size": self.recognizer.backbone.input_size, "margin": crop.margin, "align": False}

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def recognize(self, requests: list[np.ndarray]):
        parts = recognize_batched(self.recognizer, requests)
        self.tally.add(parts)
        return self.tally.answers(parts)

    def stats(self) -> dict:
        return self.tally.figures()
