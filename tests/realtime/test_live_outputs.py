"""What face-live writes about people is owner-only and recorded: annotated videos (0600) and the
folders created for them, for the CSV log and for the data (0700); every CSV log and video
is noted in the outputs registry, which concurrent runs and damage do not lose, so that
`face-enroll remove NAME --everywhere` cleans every log and names every video."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import numpy as np

from facecore.csvlog import CsvLog, read_log
from facecore.outputs import read_outputs, record_outputs
from facecore.people import make_private_dir
from helpers import REPO, VIDEOS, need
from realtime.window.sinks import VideoSink, check_video_path


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_video_and_the_folders_made_for_it_are_owner_only(tmp_path):
    path = check_video_path(tmp_path / "out" / "cams" / "door.mp4")
    with VideoSink(path, 10.0) as sink:
        for _ in range(3):
            sink.write(np.zeros((48, 64, 3), np.uint8))
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "out") == _mode(tmp_path / "out" / "cams") == 0o700


def test_top_level_folders_of_the_data_and_the_log_are_owner_only(tmp_path):
    make_private_dir(tmp_path / "data" / "people")
    CsvLog(tmp_path / "logs" / "deep" / "rec.csv").open().close()
    for folder in ("data", "data/people", "logs", "logs/deep"):
        assert _mode(tmp_path / folder) == 0o700, folder


_RECORDER = """
import sys
from facecore.outputs import record_outputs
for i in range(25):
    record_outputs(sys.argv[1], [f"/logs/{sys.argv[2]}-{i}.csv"], [f"/videos/{sys.argv[2]}-{i}.mp4"])
"""


def test_runs_recording_at_once_lose_no_entry(tmp_path):
    registry = tmp_path / "data" / "outputs.json"
    procs = [subprocess.Popen([sys.executable, "-c", _RECORDER, str(registry), f"run{n}"], cwd=REPO,
                              env={"PYTHONPATH": str(REPO)}) for n in range(4)]
    assert [p.wait() for p in procs] == [0] * 4
    found = read_outputs(registry)
    assert not found.damaged and len(found.logs) == len(set(found.logs)) == 100 and len(found.videos) == 100
    assert _mode(registry) == 0o600 and _mode(registry.parent) == 0o700


def test_a_damaged_registry_keeps_the_paths_it_still_holds(tmp_path, caplog):
    registry = tmp_path / "outputs.json"
    registry.write_text('{"logs": ["/a/grid.csv", "/b/door.csv"], "videos": ["/v/door.mp4"')  # cut short
    found = read_outputs(registry)
    assert found.damaged and found.logs == ("/a/grid.csv", "/b/door.csv") and found.videos == ("/v/door.mp4",)
    record_outputs(registry, ["/c/new.csv"])
    assert json.loads(registry.read_text()) == {"logs": ["/a/grid.csv", "/b/door.csv", "/c/new.csv"],
                                                "videos": ["/v/door.mp4"]}
    assert "damaged" in caplog.text


def test_face_live_records_its_log_and_video_and_remove_everywhere_cleans_and_names_them(tmp_path, detector,
                                                                                       capsys):
    """A real face-live run (detector only: nobody is enrolled) with `--log logs/grid.csv --output`,
    then `remove "Joe Biden" --everywhere`: his row in logs/grid.csv is gone and the video is named."""
    from enroll.cli import main as enroll
    from facecore.models import Models
    from realtime.cli import live

    clip = need(VIDEOS / "obama-biden" / "biden.mp4")
    live(["--source", str(clip), "--headless", "--log", "logs/grid.csv", "--output", "out/biden.mp4",
          "--max-frames", "2"], models=Models(detector))
    registry = read_outputs(tmp_path / "data" / "outputs.json")
    assert registry.logs == (str(tmp_path / "logs" / "grid.csv"),)
    assert registry.videos == (str(tmp_path / "out" / "biden.mp4"),)
    for path, mode in (("out/biden.mp4", 0o600), ("out", 0o700), ("logs", 0o700), ("data", 0o700),
                       ("data/outputs.json", 0o600)):
        assert _mode(tmp_path / path) == mode, path
    with CsvLog(tmp_path / "logs" / "grid.csv") as log:
        log.append({"name": "Joe Biden", "track": 7, "source": str(clip)})
    capsys.readouterr()
    assert enroll(["remove", "Joe Biden", "--everywhere"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert all(row["name"] != "Joe Biden" for row in read_log(tmp_path / "logs" / "grid.csv"))
    assert "may still show Joe Biden" in out and str(tmp_path / "out" / "biden.mp4") in out, out
