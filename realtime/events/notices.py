"""What the events-out targets share: which sightings become notifications, their JSON body,
and how a target says that it lost some.

A *sighting* is a record the writer publishes on the hub for each CSV row it wrote (the row's
cells, :data:`facecore.csvlog.COLUMNS`, plus ``event``: the event database's id or ``None``).
:class:`NotifyPolicy` (``[events] notify``, ``cooldown_s``) picks the ones to send:

- ``notify = "named"``: enrolled people only; ``"unknown"``: strangers only; ``"all"``: both;
- a person: at most one notification per (person, source) per ``cooldown_s`` seconds, by the
  rows' own times;
- a stranger: one notification per track of each source (the CSV logs each unknown track once).

:func:`notice` is the body every target sends (webhook POST, MQTT ``facecam/<source>/event``).
:class:`Drops` counts what a target could not deliver and says so in one warning line per
outage (when it ends, when face-live stops, or every :data:`WARN_EVERY_S` while it lasts),
naming the target by its masked URL.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping

from facecore.eventdb import stamp
from facecore.faces import UNKNOWN

__all__ = ["NotifyPolicy", "notice", "face_id", "Drops", "WARN_EVERY_S", "MAX_REMEMBERED"]

log = logging.getLogger(__name__)
WARN_EVERY_S = 600.0  # while a target stays down, its drops are reported at most this often
MAX_REMEMBERED = 100_000  # (person, source) and (source, track) keys kept for the cooldown (oldest forgotten)


def face_id(snapshot: object) -> str | None:
    """The face store id a CSV ``snapshot`` cell points at (its file's stem), ``None`` without one."""
    text = str(snapshot or "")
    return Path(text).stem if text else None


def _seconds(record: Mapping[str, Any], clock: Callable[[], float]) -> float:
    """The row's time in seconds since the epoch (``clock()`` when its ``time`` cell is unreadable)."""
    when = stamp(str(record.get("time") or ""))
    return when if when is not None else clock()


class NotifyPolicy:
    """``admit(record) -> bool``: whether a sighting record becomes a notification (see the
    module's rules). Not thread-safe: one per consumer thread."""

    def __init__(self, notify: str = "all", cooldown_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        if notify not in ("all", "named", "unknown"):
            raise ValueError(f"notify must be all, named or unknown, got {notify!r}")
        self.notify, self.cooldown_s, self._clock = notify, cooldown_s, clock
        self._last: OrderedDict[tuple[str, str], float] = OrderedDict()  # (name, source) -> last notified (s)
        self._tracks: OrderedDict[tuple[str, str], None] = OrderedDict()  # (source, track) of strangers sent

    def admit(self, record: Mapping[str, Any]) -> bool:
        name, source = str(record.get("name") or ""), str(record.get("source") or "")
        if not name:
            return False
        if name == UNKNOWN:
            return self.notify != "named" and self._new_track(source, str(record.get("track")))
        if self.notify == "unknown":
            return False
        now, key = _seconds(record, self._clock), (name, source)
        last = self._last.get(key)
        if last is not None and 0.0 <= now - last < self.cooldown_s:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        if len(self._last) > MAX_REMEMBERED:
            self._last.popitem(last=False)
        return True

    def _new_track(self, source: str, track: str) -> bool:
        key = (source, track)
        if key in self._tracks:
            return False
        self._tracks[key] = None
        if len(self._tracks) > MAX_REMEMBERED:
            self._tracks.popitem(last=False)
        return True


def _confidence(value: object) -> float | None:
    try:
        return round(float(value), 4) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def notice(record: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of a notification: ``type`` (``recognized`` or ``unknown``), ``name``,
    ``source``, ``start`` (the row's ISO time), ``confidence`` (0..1 or null), ``event`` (the
    event database's id or null) and ``face`` (the kept face's id or null)."""
    name = str(record.get("name") or "")
    event = record.get("event")
    return {
        "type": "unknown" if name == UNKNOWN else "recognized",
        "name": name,
        "source": str(record.get("source") or ""),
        "start": str(record.get("time") or ""),
        "confidence": _confidence(record.get("confidence")),
        "event": int(event) if isinstance(event, (int, float)) and not isinstance(event, bool) else None,
        "face": face_id(record.get("snapshot")),
    }


class Drops:
    """What one target (``what``: its kind and masked URL) lost: ``add(n, reason)`` counts,
    :meth:`say` writes the one warning line for the drops not yet reported. Thread-safe enough
    for one writer thread plus a final :meth:`say` after it stopped."""

    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic, every_s: float = WARN_EVERY_S) -> None:
        self.what, self.total = what, 0
        self._clock, self._every_s = clock, every_s
        self._unsaid, self._reason, self._since = 0, "", None
        self._queue_dropped = 0

    def add_queue_drops(self, subscription) -> None:
        """Count what the target's hub queue lost since the last call (it fell behind)."""
        lost, self._queue_dropped = subscription.dropped - self._queue_dropped, subscription.dropped
        self.add(lost, "its queue was full")

    def add(self, n: int, reason: str) -> None:
        if n <= 0:
            return
        self.total += n
        self._unsaid += n
        self._reason = reason
        if self._since is None:
            self._since = self._clock()
        elif self._clock() - self._since >= self._every_s:
            self.say()

    def say(self) -> None:
        """One warning line for the drops counted since the last one (nothing when none)."""
        if self._unsaid:
            log.warning("%s: %d event%s dropped (%s)", self.what, self._unsaid, "" if self._unsaid == 1 else "s",
                        self._reason)
        self._unsaid, self._since = 0, None
