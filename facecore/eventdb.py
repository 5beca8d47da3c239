"""The event database: who was seen, where and when, in SQLite (``events.database``).

Two tables, both written from the rows of the CSV log (:data:`facecore.csvlog.COLUMNS`):

- ``sightings``: one row per CSV row (its cells, the face id its ``snapshot`` names, its
  event); ``time`` as the ISO text of the log plus ``ts``, seconds since the epoch (UTC),
  for ranges;
- ``events``: one track of one person (or of one stranger) on one source: start and end,
  best confidence and the id of the kept face of the most confident sighting. A sighting
  extends the open event of its (source, track, name) unless more than :data:`EVENT_GAP_S`
  seconds passed or its ``source_time`` went back (a new run numbers tracks anew).

The file and its ``-wal``/``-shm`` are owner-only, in WAL mode; each row is one commit, so
a killed writer loses at most the row it was writing. ``secure_delete`` and a truncating
checkpoint make :func:`forget_everywhere` leave no byte of a forgotten name in the files.
Any failure (a damaged or locked file) is one :class:`StorageError` naming the file.
Queries are in :mod:`facecore.eventquery`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator, Mapping

from .csvlog import _FORMULA_STARTS, read_log  # the cells neutralize() marks
from .errors import StorageError

__all__ = ["EventDb", "SCHEMA_VERSION", "EVENT_GAP_S", "exists", "connect", "stamp",
           "forget_everywhere", "prune_before", "import_csv"]

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
EVENT_GAP_S = 600.0  # a track's sightings further apart than this are two events
BUSY_S = 5.0  # how long a write waits for another program's lock
_SIGHTING = ("time", "ts", "name", "confidence", "track", "frame", "source_time",
             "x1", "y1", "x2", "y2", "source", "snapshot", "face", "event")
_SCHEMA = """
CREATE TABLE events (id INTEGER PRIMARY KEY, source TEXT NOT NULL, name TEXT NOT NULL, track INTEGER,
    start_at TEXT NOT NULL, start_ts REAL NOT NULL, end_at TEXT NOT NULL, end_ts REAL NOT NULL,
    confidence REAL, face TEXT, sightings INTEGER NOT NULL DEFAULT 1);
CREATE TABLE sightings (id INTEGER PRIMARY KEY, time TEXT NOT NULL, ts REAL NOT NULL, name TEXT NOT NULL,
    confidence REAL, track INTEGER, frame INTEGER, source_time REAL, x1 INTEGER, y1 INTEGER, x2 INTEGER,
    y2 INTEGER, source TEXT NOT NULL, snapshot TEXT, face TEXT, event INTEGER);
CREATE INDEX sightings_ts ON sightings (ts);
CREATE INDEX sightings_name_ts ON sightings (name, ts);
CREATE INDEX sightings_source_ts ON sightings (source, ts);
CREATE INDEX sightings_event ON sightings (event);
CREATE INDEX events_start ON events (start_ts);
CREATE INDEX events_name_start ON events (name, start_ts);
CREATE INDEX events_source_start ON events (source, start_ts);
CREATE INDEX events_end ON events (end_ts);
"""


def _message(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the event database {path} is locked by another program (waited {BUSY_S:g} s)"
    if "not a database" in text or "malformed" in text:
        return (f"the event database {path} is damaged ({text}): move it aside (face-live starts a new one; "
                f"face-enroll events --import-csv refills it from the CSV log)")
    return f"the event database {path} cannot be used: {text}"


@contextmanager
def _guarded(path: Path) -> Iterator[None]:
    """Turn SQLite's and the file system's errors into one ``StorageError`` naming ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(_message(path, exc)) from exc
    except OSError as exc:
        raise StorageError(f"the event database {path} cannot be used: {exc.strerror or exc}") from exc


def exists(path: str | os.PathLike) -> bool:
    return Path(path).is_file()


def _create_file(path: Path) -> None:
    """Make the folder (0700 when made here) and an empty owner-only file, so that SQLite's
    ``-wal`` and ``-shm``, which take the file's mode, are owner-only too."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StorageError(f"the event database {path} was written by a newer facecam "
                           f"(schema {version}; this one reads {SCHEMA_VERSION})")
    if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise StorageError(f"{path} is not a facecam event database (it holds other tables)")
    db.execute("BEGIN IMMEDIATE")
    db.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")  # commits


def connect(path: str | os.PathLike, create: bool = True) -> sqlite3.Connection:
    """An open connection to the database at ``path`` (created when ``create``), its schema
    checked; autocommit (``BEGIN`` is explicit), usable from any one thread at a time."""
    path = Path(path)
    with _guarded(path):
        if create and not path.exists():
            _create_file(path)
        if not path.is_file():
            raise StorageError(f"no event database at {path}")
        db = sqlite3.connect(path, timeout=BUSY_S, isolation_level=None, check_same_thread=False)
        try:
            for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "secure_delete = ON",
                           "temp_store = MEMORY"):
                db.execute(f"PRAGMA {pragma}")
            _check_schema(db, path)
        except BaseException:
            db.close()
            raise
    return db


def stamp(text: str) -> float | None:
    """Seconds since the epoch of an ISO time (a time without offset is local); ``None`` if unreadable."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when.timestamp()


def _number(value: object, kind: type) -> float | int | None:
    if value is None or value == "":
        return None
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        return None


def _sighting(row: Mapping[str, object], ts: float) -> dict:
    """The sightings columns of a CSV ``row`` (``event`` still unset)."""
    snapshot = str(row.get("snapshot") or "")
    cells = {key: _number(row.get(key), int) for key in ("track", "frame", "x1", "y1", "x2", "y2")}
    return {**cells, "time": str(row["time"]), "ts": ts, "name": str(row.get("name") or ""),
            "confidence": _number(row.get("confidence"), float), "source_time": _number(row.get("source_time"), float),
            "source": str(row.get("source") or ""), "snapshot": snapshot,
            "face": Path(snapshot).stem if snapshot else None, "event": None}


class EventDb:
    """One writer's connection: ``record(row)`` appends a sighting and opens or extends its event.

    The open events are this writer's own (a new writer, as a new run, opens new ones).
    Raises ``StorageError`` naming the file on any failure.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.db = connect(self.path)
        self._open: dict[tuple, list] = {}  # (source, track, name) -> [event id, last ts, last source_time]

    def close(self) -> None:
        self.db.close()

    def record(self, row: Mapping[str, object]) -> int | None:
        """Write the CSV ``row`` (a dict of :data:`~facecore.csvlog.COLUMNS`); returns its event id
        (``None`` for a row without a readable time, which is not stored)."""
        ts = stamp(str(row.get("time") or ""))
        if ts is None:
            return None
        sighting = _sighting(row, ts)
        with self.transaction():
            self.insert(sighting)
        return sighting["event"]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: committed whole, or rolled back (``StorageError`` naming the file;
        the open events are then forgotten, as their ids may have been rolled back)."""
        with _guarded(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                self._open.clear()
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def insert(self, sighting: dict) -> None:
        """Append ``sighting`` (inside a transaction) and open or extend its event."""
        sighting["event"] = self._event(sighting)
        self.db.execute(f"INSERT INTO sightings ({', '.join(_SIGHTING)}) "
                        f"VALUES ({', '.join(':' + c for c in _SIGHTING)})", sighting)

    def _event(self, s: dict) -> int:
        """The id of the event ``s`` belongs to: the open one of its key, extended, or a new one."""
        key = (s["source"], s["track"], s["name"])
        current = self._open.get(key)
        fresh = current is None or s["ts"] - current[1] > EVENT_GAP_S or s["ts"] < current[1] \
            or (s["source_time"] is not None and current[2] is not None and s["source_time"] < current[2])
        if not fresh and self.db.execute(
                "UPDATE events SET end_at = :time, end_ts = :ts, sightings = sightings + 1, "
                "face = CASE WHEN :face IS NOT NULL AND (face IS NULL OR coalesce(:confidence, 0) > "
                "coalesce(confidence, 0)) THEN :face ELSE face END, "
                "confidence = max(coalesce(confidence, :confidence), coalesce(:confidence, confidence)) "
                "WHERE id = :id", {**s, "id": current[0]}).rowcount:
            event = current[0]
        else:  # none open, a gap, or forgotten meanwhile
            event = self.db.execute(
                "INSERT INTO events (source, name, track, start_at, start_ts, end_at, end_ts, confidence, face) "
                "VALUES (:source, :name, :track, :time, :ts, :time, :ts, :confidence, :face)", s).lastrowid
        self._open[key] = [event, s["ts"], s["source_time"]]
        return event

    def known(self, s: dict) -> bool:
        """True when a sighting with ``s``'s time, source, track and name is stored already."""
        return self.db.execute("SELECT 1 FROM sightings WHERE ts = ? AND source = ? AND track IS ? AND name = ?",
                               (s["ts"], s["source"], s["track"], s["name"])).fetchone() is not None

    def prune(self, before: float) -> int:
        """Delete the sightings older than ``before`` (epoch seconds), and the events that ended
        before it; returns the sightings deleted."""
        with self.transaction():
            gone = self.db.execute("DELETE FROM sightings WHERE ts < ?", (before,)).rowcount
            self.db.execute("DELETE FROM events WHERE end_ts < ?", (before,))
        return gone

    def forget(self, name: str) -> int:
        """Delete ``name``'s sightings and events, then checkpoint the WAL into the (zeroed) pages and
        truncate it; returns the rows deleted."""
        with self.transaction():
            gone = self.db.execute("DELETE FROM sightings WHERE name = ?", (name,)).rowcount
            gone += self.db.execute("DELETE FROM events WHERE name = ?", (name,)).rowcount
        self._open = {k: v for k, v in self._open.items() if k[2] != name}
        self.checkpoint()
        return gone

    def checkpoint(self, tries: int = 20) -> None:
        """Copy the WAL into the file and truncate it to nothing (waits for readers to finish)."""
        for _ in range(tries):
            with _guarded(self.path):
                busy = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return
            time.sleep(0.25)
        raise StorageError(f"the event database {self.path} is in use: its journal ({self.path}-wal) could not "
                           f"be emptied; run this again once face-live has stopped")


def forget_everywhere(path: str | os.PathLike | None, name: str) -> int:
    """Delete ``name``'s sightings and events from the database at ``path`` (none there: 0), leaving
    no byte of the name in its files; returns the rows deleted."""
    if not path or not exists(path):
        return 0
    db = EventDb(path)
    try:
        return db.forget(name)
    finally:
        db.close()


def prune_before(path: str | os.PathLike | None, when: datetime) -> int:
    """Delete what the database at ``path`` holds from before ``when``; returns the sightings deleted."""
    if not path or not exists(path):
        return 0
    db = EventDb(path)
    try:
        gone = db.prune(when.timestamp())
        db.checkpoint()
        return gone
    finally:
        db.close()


def _plain(text: str) -> str:
    """A CSV cell as face-live meant it: without the ``'`` that kept a spreadsheet from running it."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def import_csv(path: str | os.PathLike, log_path: str | os.PathLike) -> tuple[int, int]:
    """Fill the database at ``path`` from the CSV log at ``log_path``, grouping rows into events as
    face-live does; a sighting already stored (same time, source, track and name) is skipped, so
    importing a log twice adds nothing. Returns ``(added, skipped)``; rows without a readable
    time count as skipped."""
    rows = [{k: _plain(v) for k, v in row.items()} for row in read_log(log_path)]
    stamped = sorted(((stamp(row["time"]), n, row) for n, row in enumerate(rows) if stamp(row["time"]) is not None),
                     key=lambda item: item[:2])
    db = EventDb(path)
    added = 0
    try:
        with db.transaction():
            for ts, _, row in stamped:
                sighting = _sighting(row, ts)
                if not db.known(sighting):
                    db.insert(sighting)
                    added += 1
    finally:
        db.close()
    return added, len(rows) - added
