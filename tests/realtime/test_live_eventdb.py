"""face-live writes the event database next to the CSV log (real clip, real MTCNN and facenet,
real files read back): the same rows in both; a damaged database is one warning naming it and
the CSV goes on; a kill -9 mid-run leaves a database that opens and agrees with the CSV."""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from facecore.csvlog import read_log
from facecore.eventdb import EventDb, stamp
from helpers import REPO, VIDEOS, need, write_clip
from live_helpers import facenet_sets
from realtime.cli import live

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
BUSY = ["--set", "log.cooldown_s=0", "--set", "tracker.recognize_every=2", "--set", "detector.every_n_frames=2"]


def _sightings(path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT time, name, track, source, event FROM sightings ORDER BY id").fetchall()
    finally:
        db.close()


def _key(r: dict) -> tuple:
    return r["time"], r["name"], int(r["track"]), r["source"]


def _rows(count: int) -> list[dict]:
    """``count`` CSV rows of obama on track 1 at the podium, a second apart."""
    return [{"time": f"2026-12-06T09:00:0{i}.000+00:00", "name": "obama", "confidence": 0.9, "track": 1, "frame": i,
             "source_time": i / 10, "x1": 1, "y1": 2, "x2": 3, "y2": 4, "source": "podium"} for i in range(count)]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, enrolled_bundle, facenet_models):
    """One face-live run on the real clip and models, with the event database and a webhook
    receiver: its folder and the bodies POSTed (the tests below read what it left)."""
    from outbound_helpers import Receiver

    folder = tmp_path_factory.mktemp("eventdb-run")
    receiver = Receiver()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)  # face-live's default paths (data/faces) land there
            live(["--source", f"podium={need(OBAMA)}", "--headless", "--model", str(enrolled_bundle),
                  "--log", str(folder / "log.csv"), "--set", f"events.database={folder / 'data' / 'events.db'}",
                  "--max-frames", "24", "--set", f'events.webhooks=["{receiver.url()}"]',
                  "--set", "events.cooldown_s=0", *facenet_sets(), *BUSY], models=facenet_models)
    finally:
        receiver.close()
    return folder, [body for _, _, body in receiver.posts]


@pytest.mark.slow  # face-live end to end on the real models (and the bundle trained first)
def test_every_csv_row_is_a_sighting_in_the_database(real_run):
    folder, _ = real_run
    rows = read_log(folder / "log.csv")
    assert len(rows) >= 3 and {r["name"] for r in rows} == {"obama"}
    assert [s[:4] for s in _sightings(folder / "data" / "events.db")] == [_key(r) for r in rows]


def test_a_damaged_database_is_one_warning_and_the_csv_goes_on(tmp_path, caplog):
    """The writer face-live runs its rows through (``EventLog``), on a file that is not a database."""
    from facecore.config import LogConfig
    from facecore.csvlog import CsvLog
    from realtime.events.records import Event, EventLog

    database = tmp_path / "events.db"
    garbage = b"not a database " * 700
    database.write_bytes(garbage)
    with caplog.at_level(logging.WARNING):
        events = EventLog(CsvLog(tmp_path / "log.csv"), LogConfig(), database=str(database))
        for row in _rows(5):
            events.write([Event(row=row)])
        events.close()
    said = [r.getMessage() for r in caplog.records if "event database" in r.getMessage()]
    assert len(said) == 1 and f"the event database {database} is damaged" in said[0] and "\n" not in said[0]
    assert len(read_log(tmp_path / "log.csv")) == 5 and database.read_bytes() == garbage


@pytest.mark.slow
def test_kill_9_mid_run_leaves_a_database_that_opens_and_matches_the_csv(tmp_path, enrolled_bundle):
    clip = write_clip(need(OBAMA), tmp_path / "long.mp4", times=4)
    database, log_path = tmp_path / "events.db", tmp_path / "log.csv"
    proc = subprocess.Popen([sys.executable, "-m", "realtime.cli", "--source", f"podium={clip}", "--headless",
                             "--model", str(enrolled_bundle), "--log", str(log_path),
                             "--set", f"events.database={database}", *facenet_sets(), *BUSY],
                            cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while len(read_log(log_path)) < 8 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, "face-live ended before it was killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    rows = {_key(r) for r in read_log(log_path)}
    EventDb(database).close()  # opens, schema checked
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    sightings = _sightings(database)
    assert len(rows) >= 8 and len(sightings) >= len(rows) - 1 and {s[:4] for s in sightings} <= rows
    for event, name, track, source, start, end, count in db.execute(
            "SELECT id, name, track, source, start_ts, end_ts, sightings FROM events"):
        mine = [s for s in sightings if s[4] == event]
        assert {(s[1], s[2], s[3]) for s in mine} == {(name, track, source)} and len(mine) == count
        assert (start, end) == (min(stamp(s[0]) for s in mine), max(stamp(s[0]) for s in mine))
    db.close()


def test_the_ray_engines_log_actor_writes_the_database_too(tmp_path):
    """The class the log actor runs (``LogWriter``), called here directly, without a cluster."""
    pytest.importorskip("ray")
    from facecore.config import Config
    from realtime.events.records import Event
    from realtime.events.ray_hub import LogWriter

    config = Config().replace(log={"path": str(tmp_path / "log.csv")}, faces={"folder": ""},
                              events={"database": str(tmp_path / "events.db")})
    writer = LogWriter(config)
    assert writer.write([Event(row=r) for r in _rows(3)]) == 3
    assert writer.close()["rows"] == 3
    assert [s[:4] for s in _sightings(tmp_path / "events.db")] == [_key(r) for r in read_log(tmp_path / "log.csv")]
    assert {s[4] for s in _sightings(tmp_path / "events.db")} == {1}


def test_the_writer_prunes_the_database_at_start_with_the_faces_retention(tmp_path):
    from datetime import datetime, timedelta, timezone

    from facecore.config import LogConfig
    from facecore.csvlog import CsvLog
    from realtime.events.records import EventLog

    database, now = tmp_path / "events.db", datetime.now(timezone.utc)
    db = EventDb(database)
    for days, name in ((31, "old"), (29, "recent")):
        db.record({"time": (now - timedelta(days=days)).isoformat(), "name": name, "track": 1, "source": "door"})
    db.close()
    EventLog(CsvLog(tmp_path / "log.csv"), LogConfig(), database=str(database)).close()  # 30 days by default
    assert [s[1] for s in _sightings(database)] == ["recent"]


@pytest.mark.slow  # face-live end to end on the real models (and the bundle trained first)
def test_rows_of_a_real_run_reach_a_webhook_through_the_writer_and_the_hub(real_run):
    """End to end on the real models: each CSV row face-live writes is published by its writer and
    POSTed by the webhook target, with the event database's event id; nothing is lost at the end."""
    folder, bodies = real_run
    rows = read_log(folder / "log.csv")
    assert len(rows) >= 3 and len(bodies) == len(rows)  # cooldown 0: every row is a notification
    assert {(b["type"], b["name"], b["source"]) for b in bodies} == {("recognized", "obama", "podium")}
    assert {b["event"] for b in bodies} == {s[4] for s in _sightings(folder / "data" / "events.db")}  # its ids
