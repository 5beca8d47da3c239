"""What the People and Review pages act on: the config (its workspace's paths), the models (built
once, when first needed), one lock for every change, and the background jobs.

Every change (an upload, a removal, naming a cluster, a correction, a retraining) holds
:meth:`Desk.changing` while it reads and writes the people and the face store, so that two
browsers never interleave theirs: the second waits its turn, then checks that what its page
showed is still so (:mod:`web.review_ops`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from facecore.config import Config
from facecore.facestore import FaceStore
from facecore.models import Models

from .jobs import Busy, Jobs

__all__ = ["Desk", "WAIT_S"]

WAIT_S = 60.0  # a change waits this long for the one before it (a retraining holds the lock throughout)


class Desk:
    """``config``: the app's config, its paths already in the workspace ``root`` (where a CSV's
    snapshot cells are relative to); ``models``: built ``Models`` to share, or ``None`` to build
    them on first use."""

    def __init__(self, config: Config, models: Models | None = None, root: Path | None = None) -> None:
        self.config, self.root = config, root
        self.jobs = Jobs()
        self._models = models
        self._building = threading.Lock()
        self._changing = threading.Lock()

    @property
    def data(self) -> Path:
        return Path(self.config.train.data)

    @property
    def model(self) -> Path:
        return Path(self.config.train.model)

    def store(self) -> FaceStore:
        return FaceStore(self.config.faces.folder)

    def models(self) -> Models:
        """The detector and backbone, built on the first call (about 10 s), then shared."""
        with self._building:
            if self._models is None or self._models.backbone is None:
                self._models = Models.build(self.config)
            return self._models

    def detector(self):
        """The detector alone (the models' when built; else built now without the backbone)."""
        with self._building:
            if self._models is None:
                self._models = Models.build(self.config, backbone=False)
            return self._models.detector

    @contextmanager
    def changing(self, wait: float = WAIT_S) -> Iterator[None]:
        """Hold the change lock; ``Busy`` when it is not free within ``wait`` seconds."""
        if not self._changing.acquire(timeout=wait):
            raise Busy("another change is being made (a retraining, or another window's): try again in a moment")
        try:
            yield
        finally:
            self._changing.release()
