"""What the People and Review pages act on: the config (its workspace's paths), the models (built
once, when first needed, and shared with ``/api/recognize``: :class:`SharedModels`), one lock for
every change, and the background jobs.

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

__all__ = ["Desk", "SharedModels", "WAIT_S"]

WAIT_S = 60.0  # a change waits this long for the one before it (a retraining holds the lock throughout)


class SharedModels:
    """The app's one detector and one backbone, each built when first needed, then used by every
    page and by ``/api/recognize`` (a copy each would hold the weights twice and pay each build
    twice). ``models``: built ``Models`` to start from."""

    def __init__(self, config: Config, models: Models | None = None) -> None:
        self.config, self._models = config, models
        self._lock = threading.Lock()

    @classmethod
    def of(cls, config: Config, models: "SharedModels | Models | None") -> "SharedModels":
        """``models`` when they are shared models already; else shared models starting from them."""
        return models if isinstance(models, SharedModels) else cls(config, models)

    def get(self, backbone: bool = True) -> Models:
        """The models; with ``backbone``, the backbone is built into them now if it is not yet."""
        from facecore.runtime import runtime_backbone

        with self._lock:
            if self._models is None:
                self._models = Models.build(self.config, backbone=backbone)
            elif backbone and self._models.backbone is None:
                self._models.backbone = runtime_backbone(self.config)
            return self._models


class Desk:
    """``config``: the app's config, its paths already in the workspace ``root`` (where a CSV's
    snapshot cells are relative to); ``models``: the app's :class:`SharedModels`, or built ``Models``
    to share, or ``None`` to build them on first use."""

    def __init__(self, config: Config, models: SharedModels | Models | None = None, root: Path | None = None) -> None:
        self.config, self.root = config, root
        self.jobs = Jobs()
        self.shared = SharedModels.of(config, models)
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
        """The detector and backbone, built on the first call that needs them (seconds), then shared."""
        return self.shared.get(backbone=True)

    def detector(self):
        """The detector (the backbone is not built for it)."""
        return self.shared.get(backbone=False).detector

    @contextmanager
    def changing(self, wait: float = WAIT_S) -> Iterator[None]:
        """Hold the change lock; ``Busy`` when it is not free within ``wait`` seconds."""
        if not self._changing.acquire(timeout=wait):
            raise Busy("another change is being made (a retraining, or another window's): try again in a moment")
        try:
            yield
        finally:
            self._changing.release()
