"""Issue 6, live side: the CSV log survives kill -9 and full disks, sources that fail are one clear
line, a dropping camera says so on screen and in the log, a signal releases everything.

Faults that cannot be caused for real here are injected at a named boundary: the camera at
``Camera``'s ``opener`` (no webcam to unplug: "mocked camera"), a disk filling and freeing
mid-run at the log's file descriptor (pointed at ``/dev/full`` and back). A full disk is also
caused for real: the log on a small tmpfs filled to the last byte (a device such as
``/dev/full`` is refused as a log), and a file-size limit (``RLIMIT_FSIZE``) that cuts a row
in half. Tests run as root, where ``chmod`` does not stop writes: the unwritable log folder
is a path whose folder is a regular file.
"""

from __future__ import annotations

import csv
import glob
import logging
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from facecore.camera import Camera, cannot_open_camera
from facecore.config import CameraConfig, Config, LogConfig
from facecore.faces import UNKNOWN
from facecore.models import Models
from helpers import REPO, VIDEOS, need, run_command, small_tmpfs
from realtime.events import records as events_module
from realtime.cli import _stop_on_signals, live
from facecore.csvlog import COLUMNS, CsvLog
from realtime.engine.step import Engine
from realtime.events.records import RETRY_S, EventLog
from realtime.engine.local import LiveLoop, LoopOptions, View
from realtime.window.overlay import Overlay
from realtime.engine.pipeline import SourceStage
from reliability_helpers import DroppingCamera, snap

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def read_rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# -- kill -9 while logging, 20 times ----------------------------------------------------------

# face-live's own logging stack (EventLog -> CsvLog, snapshot crops on) in real processes that
# log as fast as they can, so that any moment of a kill falls in the middle of logging. To keep
# 20 runs fast, one parent imports everything once and forks each run on request.
_FORKER = """
import os, sys
import numpy as np
from facecore.config import LogConfig
from facecore.csvlog import CsvLog
from realtime.events.records import EventLog
sys.path.insert(0, sys.argv[2])
from reliability_helpers import DroppingCamera, snap

for run in sys.stdin:
    run = run.strip()
    pid = os.fork()
    if pid == 0:
        image = np.zeros((120, 100, 3), np.uint8)
        events = EventLog(CsvLog(sys.argv[1]), LogConfig(cooldown_s=0.0), sys.argv[3])
        for i in range(10**9):
            events.record(snap(f"{run}-{i}-" + "x" * (i % 700), i, i, "cam-" + run), image)
    print(pid, flush=True)
    os.waitpid(pid, 0)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` is still running (a killed child stays a zombie until reaped: not alive)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # reaped before or while its stat was read
        return False


def _size(path) -> int:
    return path.stat().st_size if path.exists() else 0


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_kill_9_of_twenty_real_logging_processes_leaves_only_whole_rows(tmp_path):
    """20 real processes append to one log through EventLog/CsvLog; each is killed with SIGKILL
    at a random moment while it logs. After each kill only the last line may be cut short (Linux
    can stop a write between pages); once the next run has opened the log, every row is whole,
    none is missing before the last one of each run, and the header is there once."""
    log, shots = tmp_path / "rec.csv", tmp_path / "shots"
    rng = random.Random(6)
    forker = subprocess.Popen([sys.executable, "-c", _FORKER, str(log), str(REPO / "tests" / "realtime"), str(shots)],
                              env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for run in range(20):
            start = _size(log)
            forker.stdin.write(f"r{run:02d}\n")
            forker.stdin.flush()
            pid = int(forker.stdout.readline())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _size(log) < start + 20_000:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.002)
            # a kill between two pages of a write may cut the last line short; nothing before it
            whole = log.read_bytes().rpartition(b"\n")[0].decode()
            assert all(len(r) == len(COLUMNS) for r in csv.reader(whole.splitlines()))
    finally:
        forker.stdin.close()
        assert forker.wait(30) == 0
    CsvLog(log).open().close()  # what the next run does first: a cut last line is removed
    rows = read_rows(log)
    assert rows[0] == list(COLUMNS) and rows.count(list(COLUMNS)) == 1
    assert all(len(r) == len(COLUMNS) for r in rows)
    seen: dict[str, list[int]] = {}
    for row in rows[1:]:
        run, i, pad = row[1].split("-")
        assert pad == "x" * (int(i) % 700) and row[10] == f"cam-{run}" and row[3] == i
        seen.setdefault(run, []).append(int(i))
    assert sorted(seen) == [f"r{r:02d}" for r in range(20)]
    for run, numbers in seen.items():
        assert numbers == list(range(len(numbers))), f"{run}: a row is missing before its last"
    assert log.read_bytes().endswith(b"\n")


# -- a full disk: real, and injected -----------------------------------------------------------

_FILLER = """
import resource, signal, sys
import numpy as np
from facecore.config import LogConfig
from facecore.csvlog import CsvLog
from realtime.events.records import EventLog
sys.path.insert(0, sys.argv[2])
from reliability_helpers import DroppingCamera, snap

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
events = EventLog(CsvLog(sys.argv[1]), LogConfig(cooldown_s=0.0))
for i in range(200):
    events.record(snap(f"row{i}-" + "y" * 97, i, i), np.zeros((4, 4, 3), np.uint8))
events.close()
print(events.rows, events.unwritten, events.error)
"""


def test_a_disk_that_fills_in_the_middle_of_a_row_leaves_no_torn_row(tmp_path):
    """A real short write: the file may not grow past 20,000 bytes, so one row is cut by the
    kernel. The partial row is removed again; the rest wait (and are counted), none is torn."""
    log = tmp_path / "rec.csv"
    done = subprocess.run([sys.executable, "-c", _FILLER, str(log), str(REPO / "tests" / "realtime")],
                          env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    written, unwritten, error = done.stdout.split(" ", 2)
    assert int(written) + int(unwritten) == 200 and int(unwritten) > 0
    assert "cannot write to the CSV log" in error and "disk full" in error
    assert done.stderr.count("CSV log") == 1  # the failure is logged once, not once per row
    data = log.read_bytes()
    assert len(data) < 20_000 and data.endswith(b"\n")
    rows = read_rows(log)
    assert all(len(r) == len(COLUMNS) for r in rows)
    assert [r[1] for r in rows[1:]] == [f"row{i}-" + "y" * 97 for i in range(int(written))]


def test_disk_full_mid_run_then_freed_rows_wait_and_are_written_in_order(tmp_path, caplog):
    """Fault injected at the log's file descriptor: it is pointed at /dev/full (ENOSPC), then back."""
    path, now = tmp_path / "rec.csv", [100.0]
    image = np.zeros((120, 100, 3), np.uint8)
    csv_log = CsvLog(path)
    events = EventLog(csv_log, LogConfig(cooldown_s=0.0), clock=lambda: now[0])
    events.record(snap("ann", 1, 1), image)
    saved, full = os.dup(csv_log._fd), os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, csv_log._fd)
        with caplog.at_level(logging.WARNING, logger="realtime.events.records"):
            events.record(snap("bob", 2, 2), image)
            events.record(snap("cy", 3, 3), image)
            assert events.rows == 1 and events.unwritten == 2
            assert events.status == "CSV LOG FAILING (rows not written: 2): cannot write to the CSV log " \
                                    f"{path}: No space left on device"
            os.dup2(saved, csv_log._fd)  # space again
            events.record(snap("dee", 4, 4), image)
            assert events.rows == 1, "tried again before RETRY_S had passed"
            now[0] += RETRY_S
            events.record(snap("eve", 5, 5), image)
    finally:
        os.close(saved), os.close(full)
    events.close()
    assert events.rows == 5 and events.unwritten == 0 and events.status == "" and events.error == ""
    assert [r[1] for r in read_rows(path)[1:]] == ["ann", "bob", "cy", "dee", "eve"]
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(messages) == 2 and messages[0][0] == "ERROR" and "recognitions are still shown" in messages[0][1]
    assert messages[1] == ("WARNING", f"the CSV log {path} works again: the waiting rows are written")


def test_rows_waiting_in_memory_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(events_module, "MAX_WAITING", 3)
    (tmp_path / "file").write_text("a file where the log's folder should be")
    events = EventLog(CsvLog(tmp_path / "file" / "rec.csv"), LogConfig(cooldown_s=0.0))
    for i in range(5):
        events.record(snap(f"p{i}", i, i), np.zeros((4, 4, 3), np.uint8))
    assert events.unwritten == 5 and events.dropped == 2 and len(events._waiting) == 3
    assert "a file is in the way" in events.status


@pytest.fixture
def full_disk_log(tmp_path):
    """A log path on a 64 KiB tmpfs whose every byte is taken: every write fails with ENOSPC."""
    with small_tmpfs(tmp_path / "full", "64k") as disk:
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass
        finally:
            os.close(fd)
        yield disk / "rec.csv"


def _cut_clip(tmp_path, share: float = 0.4):
    """The Obama clip with its file cut at ``share``: it ends with a damaged frame."""
    clip = tmp_path / "cut.mp4"
    data = need(OBAMA).read_bytes()
    clip.write_bytes(data[: int(len(data) * share)])
    return clip


@pytest.mark.slow
def test_face_live_keeps_running_on_a_full_disk_and_stops_cleanly_at_a_cut_clips_last_frame(tmp_path,
                                                                                            full_disk_log):
    """The real command, its log on a full disk (every write: ENOSPC), its source a clip cut at
    40 %: it plays to the last good frame with the log failing all along, says so at once and
    at the end, and exits 1."""
    why = f"cannot write to the CSV log {full_disk_log}: No space left on device"
    result = run_command("realtime.cli", "--source", str(_cut_clip(tmp_path)), "--headless",
                         "--log", str(full_disk_log), "--output", str(tmp_path / "out.avi"),
                         "--set", f"train.model={tmp_path / 'none'}", timeout=300, cwd=tmp_path)
    err = result.stderr
    assert result.returncode == 1, err
    assert "Traceback" not in err and not re.search(r"^\[(h264|mov|aac)", err, re.M)  # no FFmpeg chatter
    assert f"error: {why}: recognitions are still shown" in err and "ERROR realtime" not in err
    summary = re.search(r"face-live: (\d+) frames? in .* (\d+) rows? logged \((\d+) NOT written\); stopped: end", err)
    assert summary, err
    frames, logged, unwritten = map(int, summary.groups())
    assert 20 < frames < 153 and logged == 0 and unwritten >= 1  # the face was due a row, at least once
    assert err.strip().splitlines()[-1] == f"face-live: error: the CSV log failed, rows not written: {unwritten} ({why})"
    video = cv2.VideoCapture(str(tmp_path / "out.avi"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == frames  # every frame was still shown (written)


def test_a_log_that_cannot_be_written_is_said_on_screen_and_the_loop_goes_on(tmp_path, detector, monkeypatch,
                                                                            full_disk_log):
    """``live()`` with the real overlay (remembering its notes); the log is on a full disk (every
    write: ENOSPC). A log whose folder cannot be made at all stops the start instead (test_live_fail_fast)."""
    notes: list = []
    monkeypatch.setattr("realtime.cli.Overlay", lambda config: NotesOverlay(config, notes))
    argv = ["--source", str(_cut_clip(tmp_path)), "--headless", "--log", str(full_disk_log), "--max-frames",
            "30",
            "--output", str(tmp_path / "out.avi"), "--set", f"train.model={tmp_path / 'none'}"]  # frames drawn
    report = live(argv, models=Models(detector))
    why = f"cannot write to the CSV log {full_disk_log}: No space left on device"
    assert report.frames == 30 and report.ended == "max-frames"
    assert report.rows == 0 and report.rows_unwritten == 1 and report.log_error == why
    assert len(notes) == 30 and all(n[-1].startswith("CSV LOG FAILING (rows not written: ") for n in notes)
    assert notes[-1][-1] == f"CSV LOG FAILING (rows not written: 1): {why}"


# -- sources that fail --------------------------------------------------------------------------

@pytest.mark.parametrize("source, words", [
    ("9", cannot_open_camera(9)),
    ("rtsp://127.0.0.1:9/none", "cannot open rtsp://127.0.0.1:9/none: no video stream answered there; check the "
                                "address, the port, the user and password in the URL, and that the camera can "
                                "be reached from this machine"),
])
def test_a_camera_or_stream_that_cannot_be_opened_is_one_line_before_models_load(tmp_path, source, words):
    start = time.monotonic()
    result = run_command("realtime.cli", "--source", source, "--headless", "--log", str(tmp_path / "l.csv"),
                         timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"face-live: error: {words}"  # no OpenCV or FFmpeg lines around it
    assert time.monotonic() - start < 15  # TensorFlow was not even imported
    assert not (tmp_path / "l.csv").exists()  # a run that could not start writes no log (nor header)


def test_a_camera_that_cannot_be_opened_names_the_video_devices_and_how_to_read_a_file(tmp_path):
    """``face-live --source 7 --headless`` on a machine without cameras: exit 1, one line saying so
    and how to give a file, a stream or a folder instead."""
    if glob.glob("/dev/video*"):
        pytest.skip("this machine has video devices: the test needs one without (/dev/video*)")
    result = run_command("realtime.cli", "--source", "7", "--headless", "--log", str(tmp_path / "l.csv"),
                         timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "face-live: error: cannot open camera 7; this machine has no video devices (/dev/video*); "
        "to read a file, stream or folder instead: --source clip.mp4, --source rtsp://HOST/PATH or --source photos/")


class NotesOverlay(Overlay):
    """The real overlay, remembering the notes it drew in the bottom-left corner."""

    def __init__(self, config, notes: list):
        super().__init__(config)
        object.__setattr__(self, "notes", notes)

    def panel(self, scene, lines, corner="top-left"):
        if corner == "bottom-left":
            self.notes.append(list(lines))
        return super().panel(scene, lines, corner)


class ScreenStandIn:
    """Takes the place of the window (no display here): counts what is shown."""

    closed = False

    def __init__(self):
        self.shown = 0

    def show(self, canvas):
        self.shown += 1
        return -1

    def wait(self, ms=1):
        return -1


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
@pytest.mark.parametrize("source", [0, "rtsp://camera.local/stream"], ids=["camera", "stream"])
def test_a_camera_that_drops_reconnects_and_says_so_on_screen_and_in_the_log_mocked_camera(detector, caplog, source):
    """Unplugged after 20 frames, the first reopening fails, the second works: the window keeps
    being drawn while the camera is away, with the status on it; the log says each step."""
    camera_plan = DroppingCamera(need(OBAMA), [20, None, 200])
    config = Config()
    camera = Camera(source, CameraConfig(reconnect_attempts=3, reconnect_backoff_s=0.5), opener=camera_plan)
    engine = Engine([SourceStage(str(source), config, detector, recognizing=False)], detector, None)
    engine.warm_up()
    notes, screen = [], ScreenStandIn()
    with caplog.at_level(logging.INFO, logger="facecore.camera"), camera:
        events = EventLog(None, LogConfig())
        loop = LiveLoop([View(str(source), camera)], engine, events, NotesOverlay(config.overlay, notes),
                        LoopOptions(max_frames=40), threading.Event(), window=screen)
        report = loop.run()
    assert report.frames == 40 and report.ended == "max-frames"
    away = [n for n in notes if any(line.startswith("source lost, reconnecting (") for line in n)]
    assert len(away) >= 2  # shown again at least every half second while away (0.5 s + 1.0 s of backoff)
    assert any("(1/3)" in line for n in away for line in n) and any("(2/3)" in line for n in away for line in n)
    assert screen.shown - report.frames >= 2  # redrawn while away (1.5 s), without counting frames
    assert notes[-1] == []  # back: the note is gone
    log_lines = [r.getMessage() for r in caplog.records if r.name == "facecore.camera"]
    assert log_lines == [f"{source}: source lost, reconnecting (1/3)", f"{source}: source lost, reconnecting (2/3)",
                         f"{source}: reconnected"]
    assert len(camera_plan.opened) == 3 and all(c.released for c in camera_plan.opened)


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_run_with_camera_released_csv_and_video_closed_mocked_camera(tmp_path, detector, sig):
    """The real signal handler and ``live()``; the camera (index 0) is a clip behind ``opener``."""
    need(OBAMA)
    camera_plan = DroppingCamera(OBAMA, [10**6], at_frame=(60, lambda: os.kill(os.getpid(), sig)))  # at 2 s
    log, video = tmp_path / "rec.csv", tmp_path / "out.avi"
    argv = ["--source", "0", "--headless", "--log", str(log), "--output", str(video),
            "--set", f"train.model={tmp_path / 'none'}"]
    with _stop_on_signals() as stop:
        report = live(argv, models=Models(detector), stop=stop, opener=camera_plan)
    assert report.ended == "signal" and 10 < report.frames <= 70
    assert len(camera_plan.opened) == 1 and camera_plan.opened[0].released
    assert not any(t.name == "camera-reader" and t.is_alive() for t in threading.enumerate())
    open_files = [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")]
    assert str(log) not in open_files and str(video) not in open_files
    rows = read_rows(log)
    assert rows[0] == list(COLUMNS) and [r[1] for r in rows[1:]] == [UNKNOWN] and log.read_bytes().endswith(b"\n")
    assert int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT)) == report.frames


def test_face_crops_saved_with_log_rows_are_owner_only(tmp_path):
    """``--faces DIR`` keeps the face of each row (its crop and record): biometric data, so 0700 and 0600."""
    shots = tmp_path / "new" / "shots"
    with CsvLog(tmp_path / "rec.csv") as csv_log:
        events = EventLog(csv_log, LogConfig(), str(shots))
        assert events.record(snap("ann", 1, 1), np.full((120, 100, 3), 128, np.uint8)) == 1
    kept = sorted(shots.iterdir())
    assert [p.suffix for p in kept] == [".jpg", ".json"] and cv2.imread(str(kept[0])).shape == (111, 91, 3)
    assert oct(shots.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in kept)
