"""The event database on its real SQLite file: rows and events read back, owner-only files,
queries and their filters, local days, forgetting to the last byte, retention, damage, import."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from datetime import datetime, timezone

import pytest

from facecore.csvlog import CsvLog
from facecore.errors import StorageError
from facecore.eventdb import (EVENT_GAP_S, SCHEMA_VERSION, EventDb, forget_everywhere, import_csv, prune_before,
                              stamp)
from facecore.eventquery import Filters, day_summary, events, last_seen
from facecore.eventwriter import EventWriter


def row(when: str, name: str, track: int, source: str = "door", confidence: float = 0.9, source_time: float = 1.0,
        snapshot: str = "") -> dict:
    """A CSV log row as face-live's writer gets it (``EventMaker._cells`` plus its snapshot)."""
    return {"time": when, "name": name, "confidence": confidence, "track": track, "frame": 3,
            "source_time": source_time, "x1": 1, "y1": 2, "x2": 30, "y2": 40, "source": source, "snapshot": snapshot}


def table(path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def local_tz(monkeypatch):
    """Local time is UTC+2 (POSIX spelling), so that a local day differs from the UTC one."""
    monkeypatch.setenv("TZ", "XXX-02")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_rows_become_sightings_and_tracks_become_events(tmp_path):
    path = tmp_path / "data" / "events.db"
    db = EventDb(path)
    db.record(row("2026-12-06T09:00:00.000+00:00", "Ada", 1, confidence=0.8, snapshot="/f/aaa.jpg"))
    db.record(row("2026-12-06T09:01:00.000+00:00", "Ada", 1, confidence=0.95, source_time=61, snapshot="/f/bbb.jpg"))
    db.record(row("2026-12-06T09:02:00.000+00:00", "Ada", 1, confidence=0.9, source_time=121, snapshot="/f/ccc.jpg"))
    db.record(row("2026-12-06T09:02:00.000+00:00", "unknown", 2, confidence=0.1, source_time=121))
    later = datetime.fromtimestamp(stamp("2026-12-06T09:02:00+00:00") + EVENT_GAP_S + 1, timezone.utc)
    db.record(row(later.isoformat(), "Ada", 1, source_time=200))  # same track after a long gap
    db.record(row("2026-12-06T11:00:00.000+00:00", "Ada", 1, source_time=0.5))  # a new run: source time went back
    db.close()
    got = table(path, "SELECT id, name, track, start_at, end_at, confidence, face, sightings FROM events ORDER BY id")
    assert got == [(1, "Ada", 1, "2026-12-06T09:00:00.000+00:00", "2026-12-06T09:02:00.000+00:00", 0.95, "bbb", 3),
                   (2, "unknown", 2, "2026-12-06T09:02:00.000+00:00", "2026-12-06T09:02:00.000+00:00", 0.1, None, 1),
                   (3, "Ada", 1, later.isoformat(), later.isoformat(), 0.9, None, 1),
                   (4, "Ada", 1, "2026-12-06T11:00:00.000+00:00", "2026-12-06T11:00:00.000+00:00", 0.9, None, 1)]
    sightings = table(path, "SELECT time, ts, name, confidence, track, frame, source_time, x1, y1, x2, y2, source, "
                            "snapshot, face, event FROM sightings ORDER BY id")
    assert len(sightings) == 6 and [s[-1] for s in sightings] == [1, 1, 1, 2, 3, 4]
    assert sightings[1] == ("2026-12-06T09:01:00.000+00:00", stamp("2026-12-06T09:01:00+00:00"), "Ada", 0.95, 1, 3,
                            61.0, 1, 2, 30, 40, "door", "/f/bbb.jpg", "bbb", 1)
    assert table(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert table(path, "PRAGMA journal_mode") == [("wal",)]


def test_a_new_writer_opens_new_events_for_the_same_track(tmp_path):
    path = tmp_path / "events.db"
    for _ in range(2):
        db = EventDb(path)
        db.record(row("2026-12-06T09:00:00+00:00", "Ada", 1))
        db.close()
    assert table(path, "SELECT count(*) FROM events") == [(2,)]


def test_files_are_owner_only(tmp_path):
    path = tmp_path / "new" / "events.db"
    db = EventDb(path)
    db.record(row("2026-12-06T09:00:00+00:00", "Ada", 1))
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["events.db", "events.db-shm", "events.db-wal"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()} == {0o600}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    db.close()


def _fill(path):
    db = EventDb(path)
    db.record(row("2026-12-06T07:00:00+00:00", "Ada", 1, "door"))
    db.record(row("2026-12-06T16:00:00+00:00", "Ada", 4, "door"))
    db.record(row("2026-12-06T12:00:00+00:00", "Ada", 2, "desk"))
    db.record(row("2026-12-06T22:30:00+00:00", "Bob", 3, "desk"))  # 00:30 the next day at UTC+2
    db.record(row("2026-12-06T10:00:00+00:00", "unknown", 5, "door"))
    db.record(row("2026-12-06T11:00:00+00:00", "unknown", 6, "door"))
    db.close()


def test_event_filters_newest_first(tmp_path):
    path = tmp_path / "events.db"
    _fill(path)

    def names(**f) -> list[tuple]:
        return [(e["name"], e["source"], e["start"][11:16]) for e in events(path, Filters(**f))]

    assert names() == [("Bob", "desk", "22:30"), ("Ada", "door", "16:00"), ("Ada", "desk", "12:00"),
                       ("unknown", "door", "11:00"), ("unknown", "door", "10:00"), ("Ada", "door", "07:00")]
    assert names(name="Ada", source="door") == [("Ada", "door", "16:00"), ("Ada", "door", "07:00")]
    assert names(unknown=True, limit=1) == [("unknown", "door", "11:00")]
    assert names(since=stamp("2026-12-06T11:00:00+00:00"), until=stamp("2026-12-06T16:00:00+00:00")) == \
        [("Ada", "door", "16:00"), ("Ada", "desk", "12:00"), ("unknown", "door", "11:00")]
    assert set(events(path, Filters(limit=1))[0]) == {"id", "source", "name", "start", "end", "confidence", "face"}


def test_last_sighting_of_each_person(tmp_path):
    path = tmp_path / "events.db"
    _fill(path)
    assert last_seen(path, Filters()) == [
        {"name": "Bob", "source": "desk", "time": "2026-12-06T22:30:00+00:00"},
        {"name": "Ada", "source": "door", "time": "2026-12-06T16:00:00+00:00"}]


def test_day_summary_in_local_days_per_person_and_source(tmp_path, local_tz):
    path = tmp_path / "events.db"
    _fill(path)
    got = [(d["day"], d["name"], d["source"], d["first_seen"], d["last_seen"], d["sightings"])
           for d in day_summary(path, Filters())]
    assert got == [("2026-12-07", "Bob", "desk", "2026-12-07T00:30:00.000+02:00", "2026-12-07T00:30:00.000+02:00", 1),
                   ("2026-12-06", "Ada", "desk", "2026-12-06T14:00:00.000+02:00", "2026-12-06T14:00:00.000+02:00", 1),
                   ("2026-12-06", "Ada", "door", "2026-12-06T09:00:00.000+02:00", "2026-12-06T18:00:00.000+02:00", 2),
                   ("2026-12-06", "unknown", "door", "2026-12-06T12:00:00.000+02:00",
                    "2026-12-06T13:00:00.000+02:00", 2)]


def _files_holding(folder, needle: bytes) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_file() and needle in p.read_bytes()]


def test_forget_leaves_no_byte_of_the_name_while_a_writer_has_it_open(tmp_path):
    path = tmp_path / "events.db"
    writer = EventDb(path)  # face-live's writer, still running
    for i in range(300):
        writer.record(row(f"2026-12-06T09:{i // 60:02d}:{i % 60:02d}+00:00", "Obama", i, snapshot=f"/f/o{i}.jpg"))
        writer.record(row(f"2026-12-06T09:{i // 60:02d}:{i % 60:02d}+00:00", "Biden", i))
    assert _files_holding(tmp_path, b"Obama")  # in the WAL, at least
    assert forget_everywhere(path, "Obama") == 600
    assert _files_holding(tmp_path, b"Obama") == []
    assert table(path, "SELECT count(*) FROM sightings WHERE name = 'Biden'") == [(300,)]
    writer.record(row("2026-12-06T10:00:00+00:00", "Biden", 1))  # the writer goes on
    writer.close()
    assert _files_holding(tmp_path, b"Obama") == [] and forget_everywhere(tmp_path / "none.db", "Obama") == 0


def test_prune_deletes_what_is_older(tmp_path):
    path = tmp_path / "events.db"
    _fill(path)
    assert prune_before(path, datetime(2026, 12, 6, 11, 30, tzinfo=timezone.utc)) == 3
    assert [e["start"][11:16] for e in events(path, Filters())] == ["22:30", "16:00", "12:00"]


def test_a_damaged_file_is_one_storage_error_naming_it(tmp_path, caplog):
    path = tmp_path / "events.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StorageError, match=f"the event database {path} is damaged"):
        EventDb(path)
    with caplog.at_level(logging.WARNING):
        writer = EventWriter(path)
        for i in range(3):
            writer.record(row("2026-12-06T09:00:00+00:00", "Ada", i))
        writer.close()
    assert len(caplog.records) == 1 and str(path) in caplog.records[0].getMessage()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "events.db"
    EventDb(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer facecam"):
        EventDb(path)


def test_a_locked_database_is_one_storage_error(tmp_path, monkeypatch):
    monkeypatch.setattr("facecore.eventdb.BUSY_S", 0.1)
    path = tmp_path / "events.db"
    EventDb(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    db = EventDb(path)
    with pytest.raises(StorageError, match=f"{path} is locked"):
        db.record(row("2026-12-06T09:00:00+00:00", "Ada", 1))
    other.close()
    db.record(row("2026-12-06T09:00:00+00:00", "Ada", 1))
    db.close()


def test_import_groups_rows_into_events_and_twice_adds_nothing(tmp_path):
    log_path = tmp_path / "log.csv"
    with CsvLog(log_path) as log:
        log.append(row("2026-12-06T09:00:00.000+00:00", "Ada", 1, source_time=0.5))
        log.append(row("2026-12-06T09:01:00.000+00:00", "Ada", 1, source_time=60.5))
        log.append(row("2026-12-06T09:00:30.000+00:00", "=Bob", 2, source="cam", source_time=30))
        log.append(row("2026-12-06T12:00:00.000+00:00", "Ada", 1, source_time=0.5))  # a later run
        log.append({"name": "no time"})
    path = tmp_path / "events.db"
    assert import_csv(path, log_path) == (4, 1)
    assert import_csv(path, log_path) == (0, 5)
    assert table(path, "SELECT name, source, start_at, end_at, sightings FROM events ORDER BY id") == [
        ("Ada", "door", "2026-12-06T09:00:00.000+00:00", "2026-12-06T09:01:00.000+00:00", 2),
        ("=Bob", "cam", "2026-12-06T09:00:30.000+00:00", "2026-12-06T09:00:30.000+00:00", 1),
        ("Ada", "door", "2026-12-06T12:00:00.000+00:00", "2026-12-06T12:00:00.000+00:00", 1)]
    assert table(path, "SELECT count(*) FROM sightings") == [(4,)]


def test_a_failed_write_never_extends_an_event_whose_id_was_rolled_back(tmp_path):
    path = tmp_path / "events.db"
    db = EventDb(path)
    real = db.db
    db.record(row("2026-12-06T09:00:00+00:00", "Bob", 7))
    with pytest.raises(StorageError):
        db.db = _FailingInsert(real)  # the event row goes in, the sighting fails: all rolled back
        db.record(row("2026-12-06T09:00:01+00:00", "Ada", 1))
    db.db = real
    db.record(row("2026-12-06T09:00:02+00:00", "Cy", 2))  # takes the rolled-back id
    db.record(row("2026-12-06T09:00:03+00:00", "Ada", 1))
    db.close()
    assert table(path, "SELECT id, name, sightings FROM events ORDER BY id") == [(1, "Bob", 1), (2, "Cy", 1),
                                                                                 (3, "Ada", 1)]


class _FailingInsert:
    """A connection whose INSERT INTO sightings fails (as a full disk would)."""

    def __init__(self, real) -> None:
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def execute(self, sql, *args):
        if sql.startswith("INSERT INTO sightings"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.execute(sql, *args)
