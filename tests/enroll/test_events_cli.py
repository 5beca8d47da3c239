"""``face-enroll events`` on a real database file: filters and relative times, the table and
``--json``, ``--last``, ``--summary day``, ``--import-csv``, and bad input as one line."""

from __future__ import annotations

import csv
import io
import json
import time
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest

from enroll.cli import main
from enroll.events_cli import parse_when
from facecore.csvlog import CsvLog
from facecore.eventdb import EventDb

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def iso(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat(timespec="milliseconds")


def row(hours_ago: float, name: str, track: int, source: str = "door", confidence: float = 0.9) -> dict:
    return {"time": iso(hours_ago), "name": name, "confidence": confidence, "track": track, "frame": 1,
            "source_time": 0.5, "x1": 1, "y1": 2, "x2": 3, "y2": 4, "source": source, "snapshot": ""}


@pytest.fixture
def db(tmp_path):
    """A database of five events: José at the door 3 h and 10 min ago, Ada at the desk 1 h ago, two
    strangers."""
    path = tmp_path / "events.db"
    writer = EventDb(path)
    for r in (row(3, "José", 1), row(2.5, "unknown", 2), row(1, "Ada", 3, "desk"), row(0.5, "unknown", 4, "desk"),
              row(1 / 6, "José", 5)):
        writer.record(r)
    writer.close()
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["events", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def events_json(capsys, db, *args) -> list[dict]:
    code, out, err = run(capsys, "--database", str(db), "--json", *args)
    assert code == 0, err
    return json.loads(out)["events"]


def test_json_shape_newest_first(capsys, db):
    got = events_json(capsys, db)
    assert [(e["name"], e["source"]) for e in got] == [("José", "door"), ("unknown", "desk"), ("Ada", "desk"),
                                                      ("unknown", "door"), ("José", "door")]
    assert all(set(e) == {"id", "source", "name", "start", "end", "confidence", "face"} for e in got)
    assert got[0]["start"] == iso(1 / 6) and got[0]["confidence"] == 0.9 and got[0]["face"] is None


def test_filters_and_relative_times(capsys, db):
    nfd = unicodedata.normalize("NFD", "José")
    assert [e["start"] for e in events_json(capsys, db, "--name", nfd)] == [iso(1 / 6), iso(3)]
    assert [e["source"] for e in events_json(capsys, db, "--unknown")] == ["desk", "door"]
    assert [e["name"] for e in events_json(capsys, db, "--source", "desk")] == ["unknown", "Ada"]
    assert [e["name"] for e in events_json(capsys, db, "--since", "2h")] == ["José", "unknown", "Ada"]
    assert [e["name"] for e in events_json(capsys, db, "--since", "160m", "--until", "45m")] == ["Ada", "unknown"]
    assert [e["name"] for e in events_json(capsys, db, "--until", iso(2))] == ["unknown", "José"]
    assert len(events_json(capsys, db, "--limit", "2")) == 2


def test_table(capsys, db):
    code, out, _ = run(capsys, "--database", str(db), "--name", "Ada")
    lines = out.splitlines()
    local = datetime.fromisoformat(iso(1)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert code == 0 and lines[0].split() == ["id", "source", "name", "start", "end", "confidence", "face"]
    assert len(lines) == 2 and lines[1].split() == ["3", "desk", "Ada", *local.split(), *local.split(), "0.900"]


def test_last_sighting_per_person(capsys, db):
    code, out, _ = run(capsys, "--database", str(db), "--last", "--json")
    assert code == 0 and json.loads(out) == {"last": [{"name": "José", "source": "door", "time": iso(1 / 6)},
                                                      {"name": "Ada", "source": "desk", "time": iso(1)}]}


def test_summary_by_day_across_two_days_and_two_sources(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "XXX-02")  # local time is UTC+2
    time.tzset()
    try:
        path = tmp_path / "events.db"
        writer = EventDb(path)
        for when, name, track, source in [("2026-12-06T06:00:00+00:00", "Ada", 1, "door"),
                                          ("2026-12-06T15:00:00+00:00", "Ada", 2, "door"),
                                          ("2026-12-06T09:00:00+00:00", "Ada", 3, "desk"),
                                          ("2026-12-06T23:00:00+00:00", "Ada", 4, "door"),  # 01:00 on the 7th
                                          ("2026-12-06T10:00:00+00:00", "unknown", 5, "desk")]:
            writer.record({"time": when, "name": name, "track": track, "source": source})
        writer.close()
        code, out, _ = run(capsys, "--database", str(path), "--summary", "day", "--csv")
        code_json, out_json, _ = run(capsys, "--database", str(path), "--summary", "day", "--json")
        code_table, table, _ = run(capsys, "--database", str(path), "--summary", "day")
    finally:
        monkeypatch.undo()
        time.tzset()
    rows = list(csv.reader(io.StringIO(out)))
    assert code == code_json == code_table == 0
    assert rows == [["day", "name", "source", "first_seen", "last_seen", "sightings"],
                    ["2026-12-07", "Ada", "door", "2026-12-07T01:00:00.000+02:00", "2026-12-07T01:00:00.000+02:00", "1"],
                    ["2026-12-06", "Ada", "desk", "2026-12-06T11:00:00.000+02:00", "2026-12-06T11:00:00.000+02:00", "1"],
                    ["2026-12-06", "Ada", "door", "2026-12-06T08:00:00.000+02:00", "2026-12-06T17:00:00.000+02:00", "2"],
                    ["2026-12-06", "unknown", "desk", "2026-12-06T12:00:00.000+02:00",
                     "2026-12-06T12:00:00.000+02:00", "1"]]
    assert [list(map(str, d.values())) for d in json.loads(out_json)["days"]] == rows[1:]
    assert table.splitlines()[3].split() == ["2026-12-06", "Ada", "door", "08:00:00", "17:00:00", "2"]


def test_no_database_yet_is_one_line_exit_0(capsys, tmp_path):
    path = tmp_path / "none.db"
    code, out, err = run(capsys, "--database", str(path))
    assert code == 0 and out == "" and len(err.splitlines()) == 1
    assert f"no event database at {path}" in err and "--import-csv" in err and not path.exists()
    code, out, _ = run(capsys, "--database", str(path), "--json")
    assert code == 0 and json.loads(out) == {"events": []}


def test_import_csv_from_the_configured_log_twice(capsys, tmp_path):
    log_path, path = tmp_path / "logs" / "rec.csv", tmp_path / "data" / "events.db"
    with CsvLog(log_path) as log:
        for r in (row(0.15, "Ada", 1), row(0.1, "Ada", 1), row(0.1, "unknown", 2)):  # 3 minutes apart: one event
            log.append(r)
    sets = ["--set", f"log.path={log_path}", "--set", f"events.database={path}"]
    code, out, _ = run(capsys, "--import-csv", *sets)
    assert code == 0 and out.startswith(f"imported 3 rows of {log_path} into {path}")
    code, out, _ = run(capsys, "--import-csv", str(log_path), *sets)
    assert code == 0 and out.startswith("imported 0 rows")
    code, out, _ = run(capsys, "--json", *sets)
    assert [(e["name"], e["start"], e["end"]) for e in json.loads(out)["events"]] == \
        [("unknown", iso(0.1), iso(0.1)), ("Ada", iso(0.15), iso(0.1))]


@pytest.mark.parametrize("args, says", [
    (["--since", "2x"], "--since '2x': give an ISO time"),
    (["--until", "yesterday"], "--until 'yesterday'"),
    (["--since", "1h", "--until", "2h"], "is after --until"),
    (["--limit", "0"], "--limit must be at least 1"),
    (["--name", "a/b"], "a/b"),
    (["--name", "unknown"], "unknown"),
    (["--csv"], "--csv goes with --summary day"),
])
def test_bad_filters_are_one_line_exit_2(capsys, db, args, says):
    code, out, err = run(capsys, "--database", str(db), *args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and says in err, err


def test_a_damaged_database_is_one_line_naming_it_exit_1(capsys, tmp_path):
    path = tmp_path / "events.db"
    path.write_bytes(b"garbage " * 1000)
    code, out, err = run(capsys, "--database", str(path))
    assert code == 1 and out == "" and len(err.splitlines()) == 1 and f"the event database {path} is damaged" in err


def test_parse_when():
    now = 1_800_000_000.0
    assert parse_when("2h", "--since", now) == now - 7200
    assert parse_when("30m", "--since", now) == now - 1800
    assert parse_when("7d", "--since", now) == now - 7 * 86400
    assert parse_when("2026-12-07T09:00:00+01:00", "--since") == datetime(2026, 12, 7, 8, tzinfo=timezone.utc).timestamp()
    assert parse_when("2026-12-07", "--since") == datetime(2026, 12, 7).timestamp()  # local midnight
