"""The CSV log: header once, appends, formula cells neutralised, whole rows after kill -9; log policy."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from facecore.config import LogConfig
from facecore.errors import UsageError
from facecore.faces import PENDING, UNKNOWN, Faces
from helpers import REPO
from facecore.csvlog import COLUMNS, CsvLog, neutralize
from realtime.events.records import EventLog, LogPolicy
from realtime.engine.pipeline import StepResult


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_header_once_then_rows_appended_across_runs(tmp_path):
    path = tmp_path / "logs" / "rec.csv"
    with CsvLog(path) as log:
        log.append({"name": "ann", "confidence": 0.91234, "track": 1, "frame": 3, "x1": 1, "y1": 2, "x2": 3, "y2": 4})
    with CsvLog(path) as log:
        log.append({"name": "bob", "confidence": 0.5, "track": 2, "frame": 9})
        assert log.rows == 1
    rows = read_rows(path)
    assert rows[0] == list(COLUMNS)
    assert [r[1] for r in rows[1:]] == ["ann", "bob"]
    assert rows[1][2] == "0.9123"
    assert sum(1 for r in rows if r == list(COLUMNS)) == 1


def test_formula_cells_are_neutralised(tmp_path):
    path = tmp_path / "rec.csv"
    evil = ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "ann, \"the\" first", "plain"]
    with CsvLog(path) as log:
        for name in evil:
            log.append({"name": name, "source": name})
    names = [r[1] for r in read_rows(path)[1:]]
    assert names == ["'" + n for n in evil[:5]] + evil[5:]
    assert [r[10] for r in read_rows(path)[1:]] == names
    assert neutralize("obama") == "obama" and neutralize("-x") == "'-x"


def test_a_file_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UsageError, match="columns differ"):
        CsvLog(path).open()
    assert path.read_text() == "a,b,c\n1,2,3\n"


def test_a_partial_last_line_left_by_a_crash_is_removed_on_open(tmp_path, caplog):
    path = tmp_path / "rec.csv"
    whole = ",".join(COLUMNS) + "\n2024-01-01T00:00:00+00:00,ann,0.9,1,3,0.1,1,2,3,4,cam,\n"
    path.write_text(whole + "2024-01-01T00:0")
    with CsvLog(path) as log:
        assert path.read_text() == whole
        log.append({"name": "bob"})
    rows = read_rows(path)
    assert [r[1] for r in rows[1:]] == ["ann", "bob"] and all(len(r) == len(COLUMNS) for r in rows)
    assert "partial row" in caplog.text and "2024-01-01T00:0" in caplog.text


def test_a_partial_header_alone_is_replaced_by_the_header(tmp_path):
    path = tmp_path / "rec.csv"
    path.write_text(",".join(COLUMNS))  # the header without its newline
    with CsvLog(path) as log:
        log.append({"name": "ann"})
    rows = read_rows(path)
    assert rows[0] == list(COLUMNS) and [r[1] for r in rows[1:]] == ["ann"]


def test_unknown_columns_are_an_error(tmp_path):
    with CsvLog(tmp_path / "rec.csv") as log, pytest.raises(ValueError, match="colour"):
        log.append({"colour": "red"})


_WRITER = """
import sys
from facecore.csvlog import CsvLog
with CsvLog(sys.argv[1]) as log:
    i = 0
    while True:
        log.append({"name": "person-" + str(i) + "x" * (i % 300), "confidence": 0.5, "track": i, "frame": i,
                    "source": "s" * 2000})
        i += 1
"""


def expected_line(i: int) -> bytes:
    cells = ["", f"person-{i}" + "x" * (i % 300), "0.5", str(i), str(i), "", "", "", "", "", "s" * 2000, ""]
    return (",".join(cells) + "\n").encode()


def test_kill_9_leaves_whole_rows_and_the_next_open_removes_a_cut_last_one(tmp_path):
    """Rows of 2 kB cross page boundaries often, where Linux may stop a write when the writer
    is killed: every line but the last is whole, the last is a whole row or the start of the
    next one, and opening the log again (the next run) leaves only whole rows."""
    path = tmp_path / "rec.csv"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 30
    while (not path.exists() or path.stat().st_size < 2_000_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    data = path.read_bytes()
    whole, _, tail = data.rpartition(b"\n")
    lines = (whole + b"\n").splitlines(keepends=True)
    assert len(lines) > 100 and lines[0] == (",".join(COLUMNS) + "\n").encode()
    assert all(line == expected_line(i) for i, line in enumerate(lines[1:]))
    assert expected_line(len(lines) - 1).startswith(tail)
    with CsvLog(path) as log:
        log.append({"name": "after"})
    rows = read_rows(path)
    assert all(len(r) == len(COLUMNS) for r in rows) and len(rows) == len(lines) + 1
    assert rows[-1][1] == "after" and path.read_bytes().endswith(b"\n")


def snap(names, tracks, time_s, fresh=None, frame=0, source="cam0") -> StepResult:
    n = len(names)
    boxes = np.tile(np.array([[10, 20, 60, 90]], np.float32), (n, 1))
    faces = Faces(boxes, names=names, confidences=np.full(n, 0.8), track_ids=tracks)
    fresh = np.ones(n, bool) if fresh is None else np.asarray(fresh, bool)
    return StepResult(source, frame, time_s, faces.with_data(carried=np.zeros(n, bool), fresh=fresh, source=source))


def pick(policy: LogPolicy, snapshot: StepResult) -> list[int]:
    return policy.select(snapshot.faces, snapshot.time_s)


def test_policy_one_row_per_person_per_cooldown_of_source_time():
    policy = LogPolicy(cooldown_s=60.0)
    assert pick(policy, snap(["ann"], [1], 0.0)) == [0]
    assert pick(policy, snap(["ann"], [1], 30.0)) == []
    assert pick(policy, snap(["ann"], [7], 59.9)) == []  # a new track of the same person
    assert pick(policy, snap(["ann", "bob"], [7, 8], 60.0)) == [0, 1]
    assert pick(policy, snap(["ann", "bob"], [7, 8], 61.0)) == []


def test_policy_strangers_once_per_track_and_never_while_voting():
    policy = LogPolicy(cooldown_s=0.0, log_unknown=True)
    assert pick(policy, snap([PENDING, UNKNOWN], [1, 2], 0.0)) == [1]
    assert pick(policy, snap([PENDING, UNKNOWN], [1, 2], 5.0)) == []
    assert pick(policy, snap([UNKNOWN, UNKNOWN], [1, 2], 9.0)) == [0]
    assert pick(LogPolicy(log_unknown=False), snap([UNKNOWN], [1], 0.0)) == []


def test_policy_logs_only_faces_detected_on_that_frame():
    policy = LogPolicy()
    assert pick(policy, snap(["ann"], [1], 0.0, fresh=[False])) == []
    assert pick(policy, snap(["ann"], [1], 0.1, fresh=[True])) == [0]


def test_event_log_writes_rows_with_snapshot_crops(tmp_path):
    image = np.zeros((120, 100, 3), np.uint8)
    image[20:90, 10:60] = (255, 0, 0)  # the "face", red in RGB
    with CsvLog(tmp_path / "rec.csv") as csv_log:
        events = EventLog(csv_log, LogConfig(), str(tmp_path / "shots"))
        assert events.record(snap(["=evil", UNKNOWN, PENDING], [1, 2, 3], 1.5, frame=45), image) == 2
    rows = read_rows(tmp_path / "rec.csv")
    row = dict(zip(rows[0], rows[1]))
    assert row["name"] == "'=evil" and row["frame"] == "45" and row["source"] == "cam0"
    assert (row["x1"], row["y1"], row["x2"], row["y2"]) == ("10", "20", "60", "90")
    assert row["source_time"] == "1.5" and row["time"][10] == "T" and row["time"][-6] in "+-"
    crop = cv2.imread(row["snapshot"])
    assert crop.shape == (111, 91, 3)  # the square of 70 * 1.6 px around the box's centre (35, 55), clamped
    b, g, r = crop[55, 45].tolist()
    assert r > 240 and b < 15 and g < 15  # red (BGR on disk; JPEG is lossy)


@pytest.mark.slow
def test_a_clip_run_writes_snapshot_cells_relative_to_the_workspace_and_correct_finds_them_after_a_move(
        tmp_path, monkeypatch, facenet_models, enrolled_bundle):
    """A real run (40 frames of the Obama clip, default paths in a workspace folder), then the whole
    folder moved: ``correct`` with a CSV cell still names the face."""
    from pathlib import Path

    from enroll.cli import main
    from facecore.csvlog import read_log
    from facecore.facestore import FaceStore
    from helpers import VIDEOS, need, write_clip
    from live_helpers import facenet_sets
    from realtime.cli import live

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    clip = write_clip(need(VIDEOS / "obama-biden" / "obama.mp4"), tmp_path / "clip.mp4", frames=40)
    live(["--source", str(clip), "--headless", "--model", str(enrolled_bundle), *facenet_sets()], models=facenet_models)
    cells = [r["snapshot"] for r in read_log(work / "logs" / "recognitions.csv") if r["snapshot"]]
    assert cells and all(not Path(c).is_absolute() and (work / c).is_file() for c in cells), cells

    moved = tmp_path / "moved"
    work.rename(moved)
    monkeypatch.chdir(moved)
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: facenet_models.detector)
    assert main(["correct", cells[0], "--is", "obama", "--no-train"]) == 0
    assert FaceStore(moved / "data" / "faces").find(cells[0]).name == "obama"
