"""Which recognitions become CSV rows and which faces are kept, and writing them.

The rules (``[log]``):

- a row when a track's name is decided, for a face detected on that frame;
- then at most one row per person per ``cooldown_s`` seconds of source time (a
  person who stays in view is logged again once the cooldown has passed);
- strangers: one ``unknown`` row per track (``log_unknown = false``: none);
- a track still voting (``…``) is never logged.

With a face store (``[faces]``), each logged track keeps its row faces and its best few
faces with their feature vectors (:mod:`realtime.events.keeper`), and each row's ``snapshot`` cell
points at its face. The writer applies ``[faces]`` retention when it starts and once a day
(:func:`facecore.retention.prune`), and deletes the oldest faces beyond ``max_faces`` as it
adds new ones.

:class:`EventMaker` (pure) makes the events of a step on the recognition thread; :class:`EventLog`
applies them (the files, and the hub: each row written is published there), on the writer's
own thread (:class:`realtime.events.writer.Writer`) or in the Ray engine's log actor.

When the CSV log cannot be written (a full disk, a read-only or missing folder), the
loop goes on: the rows wait in memory (up to ``MAX_WAITING``), writing is tried again
every ``RETRY_S`` seconds, ``status`` says so for the screen, and the failure and the
recovery are logged once each.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from facecore.config import LogConfig
from facecore.csvlog import CsvLog
from facecore.errors import FacecamError, UsageError
from facecore.eventwriter import EventWriter
from facecore.faces import PENDING, UNKNOWN, Faces
from facecore.facestore import FaceStore
from facecore.logcells import snapshot_cell
from facecore.retention import prune

from ..engine.pipeline import StepResult
from .hub import SIGHTING, Hub
from .keeper import FacePicker, KeepRules, Kept

__all__ = ["LogPolicy", "Event", "EventMaker", "EventLog", "MAX_WAITING", "RETRY_S", "PRUNE_S"]

log = logging.getLogger(__name__)
MAX_WAITING = 10_000  # rows kept in memory while the CSV log fails (older ones are dropped, and counted)
RETRY_S = 2.0
PRUNE_S = 86400.0  # retention is applied at start, then once a day


class LogPolicy:
    """Pure bookkeeping: ``select(faces, now)`` -> indices of the faces to log now, each source
    (the faces' ``source`` column) kept apart: a person's cooldown runs per source."""

    def __init__(self, cooldown_s: float = 60.0, log_unknown: bool = True) -> None:
        self.cooldown_s = cooldown_s
        self.log_unknown = log_unknown
        self._person_logged: dict[tuple[str, str], float] = {}
        self._unknown_tracks: set[tuple[str, int]] = set()

    def select(self, faces: Faces, now: float) -> list[int]:
        """Rows of ``faces`` (one frame's tracks, at source time ``now``) that become CSV rows."""
        chosen = []
        fresh, sources = faces.column("fresh", False), faces.column("source", "")
        for row, (name, track) in enumerate(zip(faces.names, faces.track_ids)):
            if not fresh[row] or name in (PENDING, ""):
                continue
            if name == UNKNOWN:
                key = (str(sources[row]), int(track))
                if self.log_unknown and key not in self._unknown_tracks:
                    self._unknown_tracks.add(key)
                    chosen.append(row)
                continue
            key = (str(sources[row]), str(name))
            last = self._person_logged.get(key)
            if last is None or now - last >= self.cooldown_s or now < last:
                self._person_logged[key] = now
                chosen.append(row)
        return chosen


@dataclass(frozen=True)
class Event:
    """One thing for the writer, plain data (it may cross threads and processes): a CSV ``row``
    as ``(column, value)`` pairs (its ``snapshot`` cell is filled in when its ``face`` is stored),
    or a ``face`` to keep alone (its record and JPEG bytes: nothing refers to the frame), or kept
    faces to ``drop`` (by id)."""

    row: tuple[tuple[str, object], ...] | None = None
    face: Kept | None = None
    drop: tuple[str, ...] = ()

    def cells(self) -> dict:
        """The row as a new dict of cells (``{}`` when the event has no row)."""
        return dict(self.row or ())


class EventMaker:
    """``events(snapshot, image)``: the rows that one step of a source calls for, by the rules
    above, and, with ``keep`` rules, the faces to keep. Pure: nothing is written; a camera
    process can make events and send them to the one writer (:class:`EventLog`)."""

    def __init__(self, config: LogConfig, keep: KeepRules | None = None) -> None:
        self.policy = LogPolicy(config.cooldown_s, config.log_unknown)
        self.picker = FacePicker(keep) if keep is not None else None

    def events(self, snapshot: StepResult, image: np.ndarray) -> list[Event]:
        faces, stamp = snapshot.faces, datetime.now().astimezone()
        rows = self.policy.select(faces, snapshot.time_s)
        row_faces, others, drop = self.picker.pick(snapshot, image, rows, stamp) if self.picker else ({}, [], [])
        out = [Event(self._cells(snapshot, row, stamp), row_faces.get(row)) for row in rows]
        out += [Event(face=kept) for kept in others]
        return out + ([Event(drop=tuple(drop))] if drop else [])

    @staticmethod
    def _cells(snapshot: StepResult, row: int, stamp: datetime) -> tuple[tuple[str, object], ...]:
        faces = snapshot.faces
        x1, y1, x2, y2 = (int(round(float(v))) for v in faces.boxes[row])
        return tuple({
            "time": stamp.isoformat(timespec="milliseconds"),
            "name": str(faces.names[row]),
            "confidence": float(faces.confidences[row]),
            "track": int(faces.track_ids[row]),
            "frame": snapshot.frame_index,
            "source_time": round(float(snapshot.time_s), 3),
            "x1": x1, "y1": y1, "x2": x2, "y2": y2,
            "source": str(faces.column("source", "")[row]),
            "snapshot": "",
        }.items())


def _or_warning(prune):
    """``prune()``'s outcome, or ``None`` with a warning when it failed (the run goes on, and tries
    again the next day); a ``UsageError`` is raised."""
    try:
        return prune()
    except UsageError:
        raise
    except FacecamError as exc:
        log.warning("could not prune old faces and rows: %s", exc)
        return None


class EventLog:
    """The one writer of the CSV log and of the face store: ``write(events)`` appends the rows of
    any source and stores their faces; ``record(snapshot, image)`` makes and writes the events of
    one step.

    ``csv_log`` is opened here (a ``UsageError``, such as a file with other columns, is
    raised at once; any other failure only makes the log "failing"). ``faces``: the face
    store's folder (``None``: no faces are kept); ``keep``: how they are kept, and the
    retention rules, applied here first. ``database``: the event database, which gets each row
    the CSV log gets (``None``: none; a failure there is logged once and the CSV goes on).
    ``hub``: where each row is published once written (:data:`~realtime.events.hub.SIGHTING`: its cells
    and ``event``, the event database's id or ``None``).
    Call ``close()`` at the end: it tries the waiting rows a last time.

    Not thread-safe: one thread applies events (:class:`realtime.events.writer.Writer` runs it on its own).
    """

    def __init__(self, csv_log: CsvLog | None, config: LogConfig, faces: str | None = None,
                 clock=time.monotonic, keep: KeepRules | None = None, database: str | None = None,
                 hub: Hub | None = None) -> None:
        self.csv, self.hub = csv_log, hub
        self.db = EventWriter(database if csv_log is not None else None)
        self.keep = keep or KeepRules()
        self.store = FaceStore(faces) if faces else None
        self.maker = EventMaker(config, self.keep if self.store is not None else None)
        self.error = ""  # why the CSV log is failing now ("" when it works)
        self.dropped = 0  # rows lost because too many were waiting
        self._waiting: deque[dict] = deque()
        self._clock, self._next_try = clock, 0.0
        self._store_error = ""
        self._kept: deque[str] = deque()  # ids in the store, oldest first
        self._next_prune = clock()
        # how the retention rules are applied: here, or (the writer's thread) started in a child process,
        # returning a pending prune (``done()``, ``result()``) while rows go on being written
        self.retain = prune
        self.pruning = None  # the pending prune, if one runs now
        if self.csv is not None:
            self._try_write()  # a file that is not a face-live log is refused here, untouched
            self._prune()

    @property
    def rows(self) -> int:
        return self.csv.rows if self.csv is not None else 0

    @property
    def unwritten(self) -> int:
        """Rows that were due but are not in the CSV file (waiting or dropped)."""
        return len(self._waiting) + self.dropped

    @property
    def status(self) -> str:
        """A line for the screen while the CSV log fails, else ``""``."""
        if not self.error:
            return ""
        return f"CSV LOG FAILING (rows not written: {self.unwritten}): {self.error}"

    def record(self, snapshot: StepResult, image: np.ndarray) -> int:
        """Make and write the events that ``snapshot`` (made from RGB ``image``) calls for; returns
        the rows due."""
        if self.csv is None:
            return 0
        return self.write(self.maker.events(snapshot, image))

    def write(self, events: list[Event]) -> int:
        """Store the faces of ``events``, delete those they drop, and append their rows (each pointing
        at its face); returns how many rows were due."""
        if self.csv is None:
            return 0
        self.poll()
        if self._clock() >= self._next_prune and self.pruning is None:
            self._prune()
        rows = 0
        for event in events:
            if event.drop and self.store is not None:
                self._delete(event.drop)
            snapshot = self._keep(event.face) if event.face is not None else ""
            if event.row is None:
                continue
            rows += 1
            if len(self._waiting) >= MAX_WAITING:
                self._waiting.popleft()
                self.dropped += 1
            self._waiting.append({**event.cells(), "snapshot": snapshot})
        if self._waiting and (not self.error or self._clock() >= self._next_try):
            self._try_write()
        return rows

    def close(self) -> None:
        """Try the waiting rows a last time, then close the CSV log."""
        if self.csv is None:
            return
        if self.pruning is not None:
            self._pruned(self.pruning)  # waited for: nothing is left half done
        if self._waiting or self.error:
            self._try_write()
        self.csv.close()
        self.db.close()

    def _try_write(self) -> None:
        """(Re)open the CSV log if needed and write the waiting rows, oldest first."""
        try:
            if not self.csv.is_open:
                self.csv.open()
            while self._waiting:
                self.csv.append(self._waiting[0])
                row = self._waiting.popleft()
                event = self.db.record(row)
                if self.hub is not None:
                    self.hub.publish(SIGHTING, {**row, "event": event})
        except UsageError:
            raise
        except FacecamError as exc:
            if not self.error:
                log.error("%s: recognitions are still shown; rows wait in memory and are written when it works "
                          "again (trying every %.0f s)", exc, RETRY_S)
            self.error = str(exc)
            self._next_try = self._clock() + RETRY_S
            return
        if self.error:
            log.warning("the CSV log %s works again: the waiting rows are written", self.csv.path)
            self.error = ""

    def _prune(self) -> None:
        """Apply the retention rules to the face store, the CSV log and the event database (a failure
        is logged: the run goes on, and tries again the next day)."""
        self._next_prune = self._clock() + PRUNE_S
        self.db.prune(time.time() - self.keep.faces.retention_days * 86400.0)
        outcome = _or_warning(lambda: self.retain(self.store, self.csv.path, self.keep.faces,
                                                  root=self.keep.root or None))
        if hasattr(outcome, "done"):  # it runs on meanwhile; rows go on being appended (the CSV log's locks)
            self.pruning = outcome
        elif self.store is not None:
            self._kept = deque(self.store.ids())

    def poll(self) -> None:
        """Finish the pending prune if it is done (any thread that applies events may ask)."""
        if self.pruning is not None and self.pruning.done():
            self._pruned(self.pruning)

    def _pruned(self, pending) -> None:
        """Wait for the prune ``pending`` to end, say why it failed if it did, and list the faces left."""
        self.pruning = None
        done = _or_warning(pending.result)
        if done is None and self.store is not None:
            self._kept = deque(self.store.ids())
        elif done is not None:  # the faces it deleted leave the list (not listing 10,000 files again here)
            gone = set(done.gone)
            self._kept = deque(i for i in self._kept if i not in gone)

    def _keep(self, kept: Kept) -> str:
        """Store a face, then delete the oldest beyond ``max_faces``; returns its picture's CSV cell
        (:func:`facecore.logcells.snapshot_cell`; ``""`` when it cannot be written: the run goes on,
        and says so once)."""
        if self.store is None:
            return ""
        try:
            path = self.store.add(kept.face, kept.jpeg)
        except FacecamError as exc:
            if not self._store_error:
                log.warning("cannot keep faces in %s: %s", self.store.folder, exc)
            self._store_error = str(exc)
            return ""
        self._store_error = ""
        self._kept.append(kept.face.id)
        while len(self._kept) > self.keep.faces.max_faces:
            self.store.remove([self._kept.popleft()])
        # relative to the workspace: the row still points at the face once the folder moves
        return snapshot_cell(path, self.keep.root or None)

    def _delete(self, ids: tuple[str, ...]) -> None:
        self.store.remove(ids)
        gone = set(ids)
        self._kept = deque(i for i in self._kept if i not in gone)
