"""The event database at scale: ``python -m bench.events``.

A database of ``--sightings`` sightings (1,000,000) in ``--events`` events (50,000) of
``--people`` people (200) and strangers on 4 sources over 30 days is built in one
transaction (what face-live would have written over a month), then timed:

1. ``events --name X``: the query in this process (median of 20), and the command as a
   fresh process, as a user runs it (median of 3; Python's start and imports included);
2. ``--last``, ``--summary day`` for one person and for everyone over the last day, the
   same way in this process;
3. writing: ``EventDb.record`` of one row, as face-live's writer does it (one commit per
   row), 2,000 rows into the full database: mean, median and 99th percentile (SQLite's
   automatic checkpoint, every 1,000 pages of WAL, falls on a few rows);
4. ``forget_everywhere`` of one person (open, delete, checkpoint that leaves no byte).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from facecore.eventdb import EventDb, connect, forget_everywhere
from facecore.eventquery import Filters, day_summary, events, last_seen

from .common import REPO, load_average, median, print_table, write_results

SOURCES = ("door", "desk", "hall", "lab")
START = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
DAYS = 30


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def build(path: Path, sightings: int, n_events: int, people: int, seed: int = 0) -> None:
    """Fill a new database at ``path``: ``n_events`` events of ``sightings / n_events`` sightings,
    one minute apart, a person's or a stranger's (one in five)."""
    rng = random.Random(seed)
    per = sightings // n_events
    db = connect(path)
    db.execute("BEGIN")
    for event in range(1, n_events + 1):
        name = "unknown" if rng.random() < 0.2 else f"person-{rng.randrange(people):03d}"
        source, start = rng.choice(SOURCES), START + rng.random() * DAYS * 86400
        db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (event, source, name, event, _iso(start), start, _iso(start + 60 * (per - 1)),
                    start + 60 * (per - 1), 0.9, f"{event:016x}", per))
        db.executemany("INSERT INTO sightings (time, ts, name, confidence, track, frame, source_time, x1, y1, x2, y2, "
                       "source, snapshot, face, event) VALUES (?, ?, ?, 0.9, ?, ?, ?, 10, 20, 110, 140, ?, ?, ?, ?)",
                       [(_iso(start + 60 * i), start + 60 * i, name, event, i * 1800, i * 60.0, source,
                         f"/data/faces/{event:016x}.jpg", f"{event:016x}", event) for i in range(per)])
    db.execute("COMMIT")
    db.close()


def timed(call, runs: int) -> float:
    """Median seconds of ``call()`` over ``runs`` runs."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return median(times)


def command_s(path: Path, name: str, runs: int = 3) -> float:
    """Median wall seconds of ``face-enroll events --name NAME`` as a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "enroll.cli", "events", "--name", name, "--database", str(path)]
    return timed(lambda: subprocess.run(argv, env=env, check=True, capture_output=True), runs)


def writes(path: Path, rows: int) -> list[float]:
    """Seconds of each of ``rows`` ``record()`` calls into the database at ``path``."""
    db, times = EventDb(path), []
    now = START + DAYS * 86400
    for i in range(rows):
        row = {"time": _iso(now + i), "name": "person-new", "confidence": 0.9, "track": i // 50, "frame": i,
               "source_time": i / 10, "x1": 1, "y1": 2, "x2": 3, "y2": 4, "source": "door", "snapshot": ""}
        start = time.perf_counter()
        db.record(row)
        times.append(time.perf_counter() - start)
    db.close()
    return times


def measure(path: Path, args) -> list[dict]:
    name = "person-007"
    mine = Filters(name=name)
    count = len(events(path, Filters(name=name, limit=None)))
    rows = [{"what": f"events --name {name} (query, {count} events, 50 shown)",
             "ms": 1000 * timed(lambda: events(path, mine), 20), "target_ms": 100},
            {"what": "events --name (the command, fresh process)", "ms": 1000 * command_s(path, name)},
            {"what": "events --last (query)", "ms": 1000 * timed(lambda: last_seen(path, Filters()), 3)},
            {"what": f"events --summary day --name {name} (query)",
             "ms": 1000 * timed(lambda: day_summary(path, mine), 5)},
            {"what": "events --summary day --since 1d (query, everyone)",
             "ms": 1000 * timed(lambda: day_summary(path, Filters(since=START + (DAYS - 1) * 86400)), 5)}]
    times = np.array(writes(path, args.writes))
    rows += [{"what": f"record one row, mean of {args.writes}", "ms": 1000 * float(np.mean(times)), "target_ms": 1},
             {"what": "record one row, median", "ms": 1000 * float(np.median(times))},
             {"what": "record one row, 99th percentile", "ms": 1000 * float(np.quantile(times, 0.99))}]
    start = time.perf_counter()
    gone = forget_everywhere(path, name)
    rows.append({"what": f"forget {name} ({gone} rows)", "ms": 1000 * (time.perf_counter() - start),
                 "target_ms": 5000})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__.splitlines()[0])
    p.add_argument("--sightings", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--people", type=int, default=200)
    p.add_argument("--writes", type=int, default=2000, help="rows written one by one for the writing time")
    p.add_argument("--name", default="events", help="name of the JSON result file (default events)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="facecam-bench-events-") as folder:
        path = Path(folder) / "events.db"
        start, load = time.perf_counter(), load_average()
        build(path, args.sightings, args.events, args.people)
        built = {"build_s": round(time.perf_counter() - start, 1), "megabytes": round(path.stat().st_size / 2**20)}
        print(f"built {args.sightings} sightings in {args.events} events: {built}")
        rows = measure(path, args)
    print_table(rows, ["what", "ms", "target_ms"])
    write_results(args.name, {"sightings": args.sightings, "events": args.events, "people": args.people,
                              "load_average": load, **built, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
