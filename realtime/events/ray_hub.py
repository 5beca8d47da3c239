"""The writer and the hub of ``face-live --engine ray``.

- :class:`LogWriter` (the log actor, one, on the driver's machine): the one writer of the run. It
  applies the cameras' events with the same :class:`~realtime.events.records.EventLog` as the local
  engine's writer thread (the CSV log, the face store, the event database; an actor's calls
  already leave the cameras' threads), publishing each row written on a hub of its own. It also
  keeps the views the cameras send (only while the driver's hub has subscribers; with a
  ``picture`` only for the sources watched there), at most :data:`MAX_VIEWS`, the oldest dropped.
- :class:`HubRelay` (in the driver): about twice a second (each round of the driver's wait)
  takes what the log actor holds, the rows written (``sighting``) and the views, and publishes
  them on the driver's :class:`~realtime.events.hub.Hub`, where events out (webhooks, MQTT) and any
  other consumer listen as they do under the local engine. Each take tells the log actor
  what the driver's hub wants (views at all; the sources watched); the cameras learn it from
  the log actor on their periodic look (every 2 s), so a picture starts or stops travelling
  within about 2 s of a consumer watching a source or leaving it.
"""

from __future__ import annotations

import logging
import os
from collections import deque

from facecore.config import Config
from facecore.csvlog import CsvLog

from .hub import SIGHTING, VIEW, Hub
from .keeper import KeepRules
from .records import Event, EventLog

__all__ = ["LogWriter", "HubRelay", "MAX_VIEWS", "MAX_SIGHTINGS"]

log = logging.getLogger(__name__)
MAX_VIEWS = 100  # views the log actor holds between two takes of the driver (the oldest are dropped)
MAX_SIGHTINGS = 10_000  # rows written it holds between two takes (the oldest are dropped)
_TAKE_S = 10.0  # the driver waits this long at most for one take


class LogWriter:
    """The one writer of the CSV log (and of the face crops, and the event database), for every camera."""

    def __init__(self, config: Config, keep: KeepRules | None = None) -> None:
        path = config.log.path
        self.hub = Hub()
        self.sightings = self.hub.subscribe([SIGHTING], MAX_SIGHTINGS)
        self.events = EventLog(CsvLog(path, config.log.fsync) if path else None, config.log,
                               config.faces.folder or None, keep=keep, database=config.events.database, hub=self.hub)
        self.views: deque[dict] = deque(maxlen=MAX_VIEWS)
        self._wants = {"views": False, "watching": ()}

    def write(self, events: list[Event]) -> int:
        return self.events.write(events)

    def view(self, record: dict) -> None:
        """A camera's view of one step (:func:`realtime.events.writer.view_record`), for the driver's hub."""
        if self._wants["views"]:
            self.views.append(record)

    def wants(self) -> dict:
        """What the driver's hub wants: ``views`` (bool: it has subscribers) and ``watching`` (the
        sources whose pictures are wanted)."""
        return self._wants

    def take(self, views: bool = False, watching: tuple = ()) -> dict:
        """The rows written (``sightings``: their records) and the views held since the last take,
        which are given up; ``views``/``watching``: what the driver's hub wants from now on."""
        self._wants = {"views": bool(views), "watching": tuple(watching)}
        sightings = []
        while (message := self.sightings.get(timeout=0)) is not None:
            sightings.append(message.record)
        held, self.views = list(self.views), deque(maxlen=MAX_VIEWS)
        return {"sightings": sightings, "views": held if views else []}

    def progress(self) -> dict:
        return {"rows": self.events.rows, "pid": os.getpid()}

    def close(self) -> dict:
        self.events.close()
        return {"rows": self.events.rows, "unwritten": self.events.unwritten, "error": self.events.error}


class HubRelay:
    """Moves what the log actor ``writer`` holds onto ``hub`` (in this process). ``relay()``, once per
    round of the driver's wait, never waits: it publishes the answer to the last take if it has
    come, and asks again; ``relay(wait=True)`` (at the end) waits up to :data:`_TAKE_S` for the
    answer. A take that fails is skipped (said once, at debug level): the hub is for consumers, and
    never holds up the run."""

    def __init__(self, writer, hub: Hub) -> None:
        self.writer, self.hub = writer, hub
        self.sightings = self.views = 0  # relayed so far
        self._asked = None  # the take under way
        self._failed = False

    def relay(self, wait: bool = False) -> None:
        import ray

        if self._asked is None:
            self._asked = self._take()
        if not ray.wait([self._asked], timeout=_TAKE_S if wait else 0)[0]:
            return
        try:
            taken = ray.get(self._asked)
        except ray.exceptions.RayError as exc:
            if not self._failed:
                log.debug("the log actor did not hand over its rows and views: %s", exc)
            self._failed, taken = True, {"sightings": [], "views": []}
        self._asked = None if wait else self._take()
        for record in taken["sightings"]:
            self.hub.publish(SIGHTING, record)
        for record in taken["views"]:
            self.hub.publish(VIEW, record)
        self.sightings += len(taken["sightings"])
        self.views += len(taken["views"])

    def _take(self):
        hub = self.hub
        return self.writer.take.remote(hub.subscribers() > 0, tuple(sorted(hub.watching())))
