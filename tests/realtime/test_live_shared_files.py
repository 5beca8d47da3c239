"""Runs that share files: several processes starting at once on one new CSV log, and two runs
saving face snapshots in one folder. Real processes, facecam's own CsvLog and EventLog."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import cv2

from helpers import REPO
from facecore.csvlog import COLUMNS

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def read_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def run_script(script: str, *args, timeout: float = 120) -> None:
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr


# -- one new log, many writers starting together ---------------------------------------------

# One parent imports what the writers need once, then forks them (``together``); they wait at a
# gate (a pipe) that the parent opens for all of them at the same moment.
_GATE = """
import os, sys, traceback

def together(count, work):
    gate_r, gate_w = os.pipe()
    children = []
    for k in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(gate_w)
                os.read(gate_r, 1)  # returns when the parent closes the gate
                work(k)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        children.append(pid)
    os.close(gate_r)
    os.close(gate_w)
    failed = [pid for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    assert not failed, f"{len(failed)} of {count} writers failed"
"""

_TOGETHER = _GATE + """
from facecore.csvlog import CsvLog

folder, rounds, writers, rows = sys.argv[1], *map(int, sys.argv[2:5])

def write_rows(path, w):
    with CsvLog(path) as log:
        for i in range(rows):
            log.append({"name": f"w{w}-{i}-" + "x" * (i * 37 % 900), "track": w, "frame": i})

for r in range(rounds):
    together(writers, lambda w: write_rows(f"{folder}/round{r}.csv", w))
"""


def test_eight_writers_starting_at_once_on_a_new_log_write_one_header_and_whole_rows(tmp_path):
    rounds, writers, rows = 15, 8, 30
    run_script(_TOGETHER, tmp_path, rounds, writers, rows)
    for r in range(rounds):
        lines = read_rows(tmp_path / f"round{r}.csv")
        assert lines[0] == list(COLUMNS), f"round {r}: no header first"
        assert lines.count(list(COLUMNS)) == 1, f"round {r}: {lines.count(list(COLUMNS))} headers"
        assert all(len(line) == len(COLUMNS) for line in lines), f"round {r}: a torn row"
        mine: dict[int, list[int]] = {}
        for line in lines[1:]:
            writer, i, pad = line[1].split("-")
            assert pad == "x" * (int(i) * 37 % 900) and writer == f"w{line[3]}" and line[4] == i
            mine.setdefault(int(line[3]), []).append(int(i))
        assert mine == {w: list(range(rows)) for w in range(writers)}, f"round {r}: rows lost"


# -- two runs, one snapshot folder ----------------------------------------------------------------

# Each writer logs the same sequence (same name, track and frames, in the same seconds) to its own
# CSV log, with crops in one shared folder; each crop is a flat grey that says whose row it is.
_SNAPSHOTS = _GATE + """
import numpy as np
from facecore.config import LogConfig
from facecore.csvlog import CsvLog
from realtime.events.records import EventLog
sys.path.insert(0, sys.argv[2])
from reliability_helpers import snap

folder, rows = sys.argv[1], int(sys.argv[3])

def log_faces(w):
    with CsvLog(f"{folder}/w{w}.csv") as csv_log:
        events = EventLog(csv_log, LogConfig(cooldown_s=0.0), f"{folder}/shots")
        for i in range(rows):
            events.record(snap("ann", 1, i), np.full((120, 100, 3), 20 + 120 * w + 2 * i, np.uint8))

together(2, log_faces)
"""


def test_two_runs_sharing_a_snapshot_folder_keep_every_crop_each_row_pointing_at_its_own(tmp_path):
    rows = 48
    run_script(_SNAPSHOTS, tmp_path, REPO / "tests" / "realtime", rows)
    paths = []
    for w in range(2):
        lines = read_rows(tmp_path / f"w{w}.csv")[1:]
        assert [line[4] for line in lines] == [str(i) for i in range(rows)]
        for i, line in enumerate(lines):
            crop = cv2.imread(line[11])
            assert crop is not None, f"writer {w}, row {i}: no crop at {line[11]!r}"
            assert round((crop.mean() - 20 - 120 * w) / 2) == i, f"writer {w}, row {i}: another row's crop"
            paths.append(line[11])
    assert len(set(paths)) == 2 * rows
    # cells are relative to the writers' workspace, the current folder (an absolute path outside it)
    assert sorted((tmp_path / "shots").glob("*.jpg")) == sorted(Path(os.path.abspath(p)) for p in paths)
