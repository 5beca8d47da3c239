"""Retention and forgetting: the CSV log rewritten atomically while a real process appends to it,
old rows and faces pruned, a person's rows and faces forgotten."""

from __future__ import annotations

import pytest

import csv
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np

from facecore.config import FacesConfig
from facecore.csvlog import COLUMNS, CsvLog, read_log, rewrite_log
from facecore.facestore import FaceStore, StoredFace, new_face_id
from facecore.retention import Pruned, drop_faces, forget, prune
from helpers import DATA, REPO, need

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)

_APPENDER = """
import sys
from facecore.csvlog import CsvLog
with CsvLog(sys.argv[1]) as log:
    for i in range(int(sys.argv[2])):
        log.append({"name": f"r{i}", "track": i})
        if i % 5 == 0:
            log.append({"name": "drop-me", "track": i})
"""


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_rewriting_while_a_real_process_appends_loses_and_tears_no_row(tmp_path):
    """The pruning side drops rows again and again (a rename over the log each time) while another
    process appends as fast as it can: every row it appended is there once, in order, whole."""
    path, rows = tmp_path / "rec.csv", 3000
    CsvLog(path).open().close()
    writer = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), str(rows)], cwd=REPO,
                              env={"PYTHONPATH": str(REPO)})
    rewrites = 0
    while writer.poll() is None:
        rewrites += rewrite_log(path, lambda row: None if row["name"] == "drop-me" else row)[1] > 0
    assert writer.wait() == 0
    rewrite_log(path, lambda row: None if row["name"] == "drop-me" else row)
    with open(path, newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == list(COLUMNS) and lines.count(list(COLUMNS)) == 1
    assert all(len(line) == len(COLUMNS) for line in lines)
    assert [line[1] for line in lines[1:]] == [f"r{i}" for i in range(rows)]
    assert rewrites >= 3, "the log was hardly ever rewritten while the other process appended"


def _photo() -> bytes:
    return sorted(need(DATA / "lfw-dev" / "Abdullah_Gul").glob("*.jpg"))[0].read_bytes()


def _log(path, store: FaceStore, entries) -> list[str]:
    """Rows ``(days ago, name)``, each with a kept face of that name; returns the face ids."""
    ids = []
    with CsvLog(path) as log:
        for days, name in entries:
            when = NOW - timedelta(days=days)
            face = StoredFace(new_face_id(when), when.isoformat(), "cam", len(ids), 0, name,
                              features=np.ones(4, np.float32))
            snapshot = store.add(face, _photo())
            log.append({"time": when.isoformat(), "name": name, "source": "cam", "snapshot": str(snapshot)})
            ids.append(face.id)
    return ids


def test_prune_deletes_old_rows_and_faces_and_empties_cells_of_faces_beyond_the_bound(tmp_path):
    store, path = FaceStore(tmp_path / "faces"), tmp_path / "rec.csv"
    ids = _log(path, store, [(45, "ann"), (20, "bob"), (10, "cy"), (1, "dee")])
    done = prune(store, path, FacesConfig(retention_days=30, max_faces=2), now=NOW)
    assert (done.faces, done.rows) == (2, 1)
    rows = read_log(path)
    assert [r["name"] for r in rows] == ["bob", "cy", "dee"]
    assert rows[0]["snapshot"] == "" and rows[1]["snapshot"].endswith(f"{ids[2]}.jpg")  # bob's face: beyond 2
    assert store.ids() == ids[2:]
    inode = path.stat().st_ino
    assert prune(store, path, FacesConfig(retention_days=30, max_faces=2), now=NOW) == Pruned(0, 0)
    assert path.stat().st_ino == inode, "nothing to prune, yet the log was rewritten"


def test_forget_deletes_a_persons_rows_and_faces_and_drop_faces_keeps_rows(tmp_path):
    store, path = FaceStore(tmp_path / "faces"), tmp_path / "rec.csv"
    ids = _log(path, store, [(1, "ann"), (1, "-bob"), (1, "ann"), (1, "unknown"), (1, "unknown")])
    done = forget("-bob", store, path)  # written neutralised as '-bob: still found
    assert (done.faces, done.rows) == (1, 1)
    assert [r["name"] for r in read_log(path)] == ["ann", "ann", "unknown", "unknown"]
    assert drop_faces(store, path, [ids[3]]) == 1
    rows = read_log(path)
    assert [r["snapshot"] == "" for r in rows] == [False, False, True, False]
    assert sorted(store.ids()) == sorted([ids[0], ids[2], ids[4]])


def test_relative_snapshot_cells_are_resolved_from_the_workspace_and_absolute_ones_still_work(tmp_path, monkeypatch):
    """Cells as face-live writes them now (relative to the workspace) and as older logs hold them
    (absolute): pruning and dropping faces empty both when their face is gone, from any folder."""
    from facecore.logcells import snapshot_cell, snapshot_path

    work = tmp_path / "work"
    store = FaceStore(work / "data" / "faces")
    ids = []
    with CsvLog(work / "logs" / "rec.csv") as log:
        for i in range(3):
            when = NOW - timedelta(days=40 if i == 0 else 1)
            face = StoredFace(new_face_id(when), when.isoformat(), "door", i, 0, "ann")
            path = store.add(face, _photo())
            cell = snapshot_cell(path, work) if i < 2 else str(path.absolute())  # the last one: an older log
            assert snapshot_path(cell, work) == path.absolute()
            log.append({"time": when.isoformat(), "name": "ann", "track": i, "snapshot": cell})
            ids.append(face.id)
    cells = [r["snapshot"] for r in read_log(work / "logs" / "rec.csv")]
    assert cells[:2] == [f"data/faces/{i}.jpg" for i in ids[:2]] and cells[2].startswith("/")
    monkeypatch.chdir(tmp_path)  # not the workspace: the root says where the cells start
    prune(store, work / "logs" / "rec.csv", FacesConfig(retention_days=365, max_faces=2), now=NOW, root=work)
    assert [r["snapshot"] for r in read_log(work / "logs" / "rec.csv")] == ["", *cells[1:]]  # the oldest face went
    drop_faces(store, work / "logs" / "rec.csv", ids[1:], root=work)
    assert [r["snapshot"] for r in read_log(work / "logs" / "rec.csv")] == ["", "", ""]
