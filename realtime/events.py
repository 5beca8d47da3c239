"""Which recognitions become CSV rows, and writing them (with optional face snapshots).

The rules (``[log]``):

- a row when a track's name is decided, for a face detected on that frame;
- then at most one row per person per ``cooldown_s`` seconds of source time (a
  person who stays in view is logged again once the cooldown has passed);
- strangers: one ``unknown`` row per track (``log_unknown = false``: none);
- a track still voting (``…``) is never logged.

When the CSV log cannot be written (a full disk, a read-only or missing folder), the
loop goes on: the rows wait in memory (up to ``MAX_WAITING``), writing is tried again
every ``RETRY_S`` seconds, ``status`` says so for the screen, and the failure and the
recovery are logged once each.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from facecore.config import LogConfig
from facecore.errors import FacecamError, UsageError
from facecore.faces import PENDING, UNKNOWN, Faces

from .csvlog import CsvLog
from .pipeline import Snapshot

__all__ = ["LogPolicy", "Event", "EventMaker", "EventLog", "face_snapshot", "MAX_WAITING", "RETRY_S"]

log = logging.getLogger(__name__)
MAX_WAITING = 10_000  # rows kept in memory while the CSV log fails (older ones are dropped, and counted)
RETRY_S = 2.0


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


def face_snapshot(image: np.ndarray, box: np.ndarray, margin: float = 0.2) -> np.ndarray:
    """The face ``box`` of RGB ``image`` with ``margin`` around it, clamped to the frame (RGB copy)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = int(max(0, np.floor(x1 - mx))), int(max(0, np.floor(y1 - my)))
    right, bottom = int(min(w, np.ceil(x2 + mx))), int(min(h, np.ceil(y2 + my)))
    if right <= left or bottom <= top:
        return np.zeros((1, 1, 3), np.uint8)
    return image[top:bottom, left:right].copy()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:40] or "face"


@dataclass
class Event:
    """One row due: its CSV cells (``snapshot`` is filled in when the crop is written) and, when
    crops are kept, the face's crop as JPEG bytes."""

    row: dict
    crop: bytes = b""


class EventMaker:
    """``events(snapshot, image)``: the rows that one step of a source calls for, by the rules
    above, with the face crops encoded. Pure: nothing is written; a camera process can make
    events and send them to the one writer (:class:`EventLog`)."""

    def __init__(self, config: LogConfig, crops: bool = False) -> None:
        self.policy = LogPolicy(config.cooldown_s, config.log_unknown)
        self.crops = crops

    def events(self, snapshot: Snapshot, image: np.ndarray) -> list[Event]:
        faces, stamp = snapshot.faces, datetime.now().astimezone()
        out = []
        for row in self.policy.select(faces, snapshot.time_s):
            x1, y1, x2, y2 = (int(round(float(v))) for v in faces.boxes[row])
            cells = {
                "time": stamp.isoformat(timespec="milliseconds"),
                "name": str(faces.names[row]),
                "confidence": float(faces.confidences[row]),
                "track": int(faces.track_ids[row]),
                "frame": snapshot.frame_index,
                "source_time": round(float(snapshot.time_s), 3),
                "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                "source": str(faces.column("source", "")[row]),
                "snapshot": "",
            }
            out.append(Event(cells, self._jpeg(image, faces.boxes[row]) if self.crops else b""))
        return out

    @staticmethod
    def _jpeg(image: np.ndarray, box: np.ndarray) -> bytes:
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(face_snapshot(image, box), cv2.COLOR_RGB2BGR))
        return jpeg.tobytes() if ok else b""


class EventLog:
    """The one writer of the CSV log (and of the face snapshots): ``write(events)`` appends the
    rows of any source; ``record(snapshot, image)`` makes and writes the events of one step.

    ``csv_log`` is opened here (a ``UsageError``, such as a file with other columns, is
    raised at once; any other failure only makes the log "failing"). Call ``close()``
    at the end: it tries the waiting rows a last time.
    """

    def __init__(self, csv_log: CsvLog | None, config: LogConfig, snapshots: str | None = None,
                 clock=time.monotonic) -> None:
        self.csv = csv_log
        self.snapshots = Path(snapshots) if snapshots else None
        self.maker = EventMaker(config, crops=self.snapshots is not None)
        self.error = ""  # why the CSV log is failing now ("" when it works)
        self.dropped = 0  # rows lost because too many were waiting
        self._waiting: deque[dict] = deque()
        self._clock, self._next_try = clock, 0.0
        if self.snapshots is not None:
            try:
                self.snapshots.mkdir(parents=True, exist_ok=True, mode=0o700)  # face crops: owner-only
            except OSError as exc:
                raise FacecamError(f"cannot create the snapshot folder {self.snapshots}: {exc.strerror}") from None
        if self.csv is not None:
            self._try_write()

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

    def record(self, snapshot: Snapshot, image: np.ndarray) -> int:
        """Make and write the events that ``snapshot`` (made from RGB ``image``) calls for; returns
        the rows due."""
        if self.csv is None:
            return 0
        return self.write(self.maker.events(snapshot, image))

    def write(self, events: list[Event]) -> int:
        """Append the rows of ``events`` (their crops saved first); returns how many were due."""
        if self.csv is None:
            return 0
        for event in events:
            if len(self._waiting) >= MAX_WAITING:
                self._waiting.popleft()
                self.dropped += 1
            self._waiting.append({**event.row, "snapshot": self._save_crop(event)})
        if self._waiting and (not self.error or self._clock() >= self._next_try):
            self._try_write()
        return len(events)

    def close(self) -> None:
        """Try the waiting rows a last time, then close the CSV log."""
        if self.csv is None:
            return
        if self._waiting or self.error:
            self._try_write()
        self.csv.close()

    def _try_write(self) -> None:
        """(Re)open the CSV log if needed and write the waiting rows, oldest first."""
        try:
            if not self.csv.is_open:
                self.csv.open()
            while self._waiting:
                self.csv.append(self._waiting[0])
                self._waiting.popleft()
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

    def _save_crop(self, event: Event) -> str:
        """Save the event's face crop in a new file (another run may share the folder: none is
        overwritten); returns its path, ``""`` when there is none."""
        if self.snapshots is None or not event.crop:
            return ""
        row = event.row
        stamp = datetime.fromisoformat(row["time"])
        stem = f"{stamp:%Y%m%dT%H%M%S}-f{row['frame']:06d}-t{row['track']}-{_safe(row['name'])}"
        try:
            fd, path = _create_new(self.snapshots, stem, ".jpg")
            with os.fdopen(fd, "wb") as fh:
                fh.write(event.crop)
        except OSError as exc:
            log.warning("could not write the face snapshot %s: %s", self.snapshots / (stem + ".jpg"),
                        exc.strerror or exc)
            return ""
        return str(path)


def _create_new(folder: Path, stem: str, suffix: str, tries: int = 1000) -> tuple[int, Path]:
    """Create ``folder/stem.suffix`` owner-only, or ``stem-2``, ``stem-3``... when taken; returns
    the open file descriptor and the path (``FileExistsError`` after ``tries`` names)."""
    for number in range(1, tries + 1):
        path = folder / f"{stem}{'' if number == 1 else f'-{number}'}{suffix}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"{tries} names taken, up to {path.name}")
