"""A running ``face-live`` follows the model bundle: a person removed, added or retrained
is seen within seconds, with no restart and no frame dropped.

1. ``poll()`` (called by the loop, on every frame: it only looks at the clock) asks a
   :class:`~facecore.bundle.BundleWatcher` every ``every_s`` seconds whether the bundle's
   id changed, or the bundle appeared or went away;
2. on a change a thread loads the new bundle and builds its recogniser, reusing the
   backbone when the bundle was trained with the same one (else building and warming up
   the one it names: :func:`realtime.engine.core.load_recognizer`, which the Ray engine's replica
   uses too), while frames go on being shown and recognised with the old one;
3. the result is handed to ``apply`` (``Engine.offer``): ``None`` when the bundle is
   gone or cannot be used, so a removed person is never named from an old bundle.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from facecore.backbones import Backbone
from facecore.bundle import BundleWatcher
from facecore.config import Config
from facecore.errors import FacecamError
from facecore.recognizer import Recognizer

from .core import load_recognizer

__all__ = ["ModelReloader"]

log = logging.getLogger(__name__)


class ModelReloader:
    """Watch ``path`` and hand a new :class:`Recognizer` (or ``None``) to ``apply`` on a change.

    ``backbone``: the one in use (reused when the new bundle fits it); ``current_id``: the
    id of the bundle loaded at start (``None`` when none was).
    """

    def __init__(self, path: str | Path, config: Config, backbone: Backbone | None, current_id: str | None,
                 apply: Callable[[Recognizer | None], None], every_s: float = 2.0) -> None:
        self.path, self.config, self.backbone, self.apply = Path(path), config, backbone, apply
        self.watcher = BundleWatcher(self.path, current_id, every_s)
        self.reloads = 0
        self._thread: threading.Thread | None = None

    def poll(self) -> None:
        """Start loading when the bundle changed (and no load is under way)."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self.watcher.poll():
            self._thread = threading.Thread(target=self._reload, name="facecam-reload", daemon=True)
            self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _reload(self) -> None:
        try:
            recognizer = self._recognizer()
        except Exception as exc:  # noqa: BLE001 - any failure: stop naming from the old bundle, say why
            why = exc if isinstance(exc, FacecamError) else f"{type(exc).__name__}: {exc}"
            log.warning("the new model bundle at %s cannot be used (%s): every face is shown as unknown "
                        "until it is fixed", self.path, why)
            recognizer = None
        else:
            if recognizer is None:
                log.warning("model bundle %s is gone: every face is shown as unknown", self.path)
            else:
                log.info("model bundle reloaded from %s: %d people", self.path, len(recognizer.labels))
        self.apply(recognizer)
        self.reloads += 1

    def _recognizer(self) -> Recognizer | None:
        recognizer, config = load_recognizer(self.path, self.config, self.backbone)
        if recognizer is not None:
            self.backbone, self.config = recognizer.backbone, config
        return recognizer
