"""Runs that share files: several processes starting at once on one new CSV log, and two runs
saving face snapshots in one folder. Real processes, facecam's own CsvLog and EventLog."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter

import cv2

from helpers import REPO
from realtime.csvlog import COLUMNS

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def read_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def run_script(script: str, *args, timeout: float = 120) -> None:
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr


# -- one new log, many writers starting together ---------------------------------------------

# One parent imports CsvLog once, then per round forks the writers; they wait at a gate (a pipe)
# that the parent opens for all of them at the same moment.
_TOGETHER = """
import os, sys, traceback
from realtime.csvlog import CsvLog

folder, rounds, writers, rows = sys.argv[1], *map(int, sys.argv[2:5])
for r in range(rounds):
    gate_r, gate_w = os.pipe()
    children = []
    for w in range(writers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(gate_w)
                os.read(gate_r, 1)  # returns when the parent closes the gate
                with CsvLog(f"{folder}/round{r}.csv") as log:
                    for i in range(rows):
                        log.append({"name": f"w{w}-{i}-" + "x" * (i * 37 % 900), "track": w, "frame": i})
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        children.append(pid)
    os.close(gate_r)
    os.close(gate_w)
    failed = [pid for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    assert not failed, f"round {r}: {len(failed)} writers failed"
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
