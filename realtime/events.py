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
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from facecore.config import LogConfig
from facecore.errors import FacecamError, UsageError
from facecore.faces import PENDING, UNKNOWN, Faces

from .csvlog import CsvLog
from .pipeline import Snapshot

__all__ = ["LogPolicy", "EventLog", "face_snapshot", "MAX_WAITING", "RETRY_S"]

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


class EventLog:
    """Policy + CSV + snapshots: ``record(snapshot, image)`` writes the rows due for one step.

    ``csv_log`` is opened here (a ``UsageError``, such as a file with other columns, is
    raised at once; any other failure only makes the log "failing"). Call ``close()``
    at the end: it tries the waiting rows a last time.
    """

    def __init__(self, csv_log: CsvLog | None, config: LogConfig, snapshots: str | None = None,
                 clock=time.monotonic) -> None:
        self.csv = csv_log
        self.policy = LogPolicy(config.cooldown_s, config.log_unknown)
        self.snapshots = Path(snapshots) if snapshots else None
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
        """Log what ``snapshot`` (made from RGB ``image``) calls for; returns the rows due."""
        if self.csv is None:
            return 0
        chosen = self.policy.select(snapshot.faces, snapshot.time_s)
        stamp = datetime.now().astimezone()
        for row in chosen:
            if len(self._waiting) >= MAX_WAITING:
                self._waiting.popleft()
                self.dropped += 1
            self._waiting.append(self._row(snapshot, image, row, stamp))
        if self._waiting and (not self.error or self._clock() >= self._next_try):
            self._try_write()
        return len(chosen)

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

    def _row(self, snapshot: Snapshot, image: np.ndarray, row: int, stamp: datetime) -> dict:
        faces = snapshot.faces
        name, track = str(faces.names[row]), int(faces.track_ids[row])
        x1, y1, x2, y2 = (int(round(float(v))) for v in faces.boxes[row])
        return {
            "time": stamp.isoformat(timespec="milliseconds"),
            "name": name,
            "confidence": float(faces.confidences[row]),
            "track": track,
            "frame": snapshot.frame_index,
            "source_time": round(float(snapshot.time_s), 3),
            "x1": x1, "y1": y1, "x2": x2, "y2": y2,
            "source": str(faces.column("source", "")[row]),
            "snapshot": self._save_crop(image, faces.boxes[row], snapshot.frame_index, track, name, stamp),
        }

    def _save_crop(self, image: np.ndarray, box: np.ndarray, frame: int, track: int, name: str,
                   stamp: datetime) -> str:
        """Save the face crop in a new file (another run may share the folder: none is overwritten)."""
        if self.snapshots is None:
            return ""
        stem = f"{stamp:%Y%m%dT%H%M%S}-f{frame:06d}-t{track}-{_safe(name)}"
        crop = cv2.cvtColor(face_snapshot(image, box), cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", crop)
        try:
            if not ok:
                raise OSError("cannot encode the crop")
            fd, path = _create_new(self.snapshots, stem, ".jpg")
            with os.fdopen(fd, "wb") as fh:
                fh.write(jpeg.tobytes())
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
