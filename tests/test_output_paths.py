"""Every output path of face-live and face-enroll follows one rule (facecore/files.py ``check_output``):
a device, a FIFO or a folder is refused before any work with one line (exit 2), and is left as
it was; a symbolic link is written through (the link stays a link); a missing folder is made
before the work starts, and one that cannot be made is one line (exit 1) before it.

The commands run in this process. What comes after the checks (face-live's models, face-enroll
eval's evaluation) is replaced by a stand-in that fails loudly ("the work was reached"), so a
check that came only after it would show as the wrong exit code and message. The runs that must
write through links use the real MTCNN detector on five frames of a real clip (face-live) and a
stand-in evaluation result (face-enroll eval: the test is about where the plot goes).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from facecore.errors import FacecamError
from helpers import VIDEOS, need

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
REACHED = "the work was reached"


def _reached(*args, **kwargs):
    raise FacecamError(REACHED)


def _live(tmp_path, flags: list[str]) -> list[str]:
    argv = ["--source", str(need(OBAMA)), "--headless", "--set", f"train.model={tmp_path / 'none'}"]
    argv += [] if "--faces" in flags else ["--faces", str(tmp_path / "faces")]
    return argv + (flags if "--log" in flags else flags + ["--log", str(tmp_path / "l.csv")])


def run(command: str, tmp_path, flags: list[str], capsys) -> tuple[int, list[str]]:
    """``face-live`` or ``face-enroll eval`` with ``flags``: (exit code, stderr's lines)."""
    capsys.readouterr()
    if command == "live":
        from realtime.cli import main

        code = main(_live(tmp_path, flags))
    else:
        from enroll.cli import main

        code = main(["eval", str(tmp_path), "--json", "--quiet", "--set", f"train.model={tmp_path / 'none'}", *flags])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture
def work_replaced(monkeypatch, tmp_path):
    """face-live's models and face-enroll's evaluation fail loudly when reached."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("realtime.cli._build", _reached)
    monkeypatch.setattr("enroll.evaluation.evaluate", _reached)


# flag -> (command, file name to use for a path made by the test)
FILE_FLAGS = {"--output": ("live", "out.mp4"), "--log": ("live", "rec.csv"), "--report": ("live", "report.json"),
              "--plot": ("eval", "confusion.png")}


def _fingerprint(path: Path) -> tuple:
    """What must not change: the kind of thing at ``path``, its device numbers, its folder's listing."""
    st = os.stat(path)
    listing = sorted(os.listdir(path)) if stat.S_ISDIR(st.st_mode) else None
    return stat.S_IFMT(st.st_mode), st.st_rdev, st.st_ino, listing


def _hostile(kind: str, folder: Path, name: str) -> Path:
    if kind in ("/dev/full", "/dev/null"):
        return Path(kind)
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "link-to-fifo":
        os.mkfifo(folder / "target")
        path.symlink_to(folder / "target")
    return path


@pytest.mark.parametrize("kind", ["/dev/full", "/dev/null", "fifo", "folder", "link-to-fifo"])
@pytest.mark.parametrize("flag", list(FILE_FLAGS))
def test_a_device_fifo_or_folder_is_refused_up_front_and_left_as_it_was(tmp_path, capsys, work_replaced, flag, kind):
    command, name = FILE_FLAGS[flag]
    path = _hostile(kind, tmp_path, name)
    before = _fingerprint(path)
    code, lines = run(command, tmp_path, [flag, str(path)], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(("face-live: error: ", "face-enroll: error: ")) and str(path) in lines[0], lines
    assert _fingerprint(path) == before
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


@pytest.mark.parametrize("flag", list(FILE_FLAGS))
def test_a_missing_folder_is_made_before_the_work_and_one_that_cannot_be_is_one_line(tmp_path, capsys,
                                                                                     work_replaced, flag):
    command, name = FILE_FLAGS[flag]
    code, lines = run(command, tmp_path, [flag, str(tmp_path / "new" / "deeper" / name)], capsys)
    assert code == 1 and lines[-1].endswith(REACHED), lines
    assert (tmp_path / "new" / "deeper").is_dir()  # made before the work, not after it
    (tmp_path / "blocked").write_text("a file where a folder should be\n")
    code, lines = run(command, tmp_path, [flag, str(tmp_path / "blocked" / name)], capsys)
    assert code == 1 and len(lines) == 1 and "a file is in the way of its folder" in lines[0], lines
    assert (tmp_path / "blocked").read_text() == "a file where a folder should be\n"


@pytest.mark.parametrize("kind", ["/dev/null", "fifo", "a file", "link-to-nothing"])
def test_eval_plots_wants_a_folder(tmp_path, capsys, work_replaced, kind):
    path = tmp_path / "plots"
    if kind == "/dev/null":
        path = Path(kind)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "a file":
        path.write_text("notes\n")
    else:
        path.symlink_to(tmp_path / "nowhere" / "plots")
    before = os.lstat(path)
    code, lines = run("eval", tmp_path, ["--plots", str(path)], capsys)
    assert code == 2 and len(lines) == 1 and "not a folder" in lines[0], lines
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)


def _link(tmp_path: Path, name: str, existing: bool) -> tuple[Path, Path]:
    """``tmp_path/name`` as a link to ``tmp_path/targets/name`` (a file there, or nothing yet)."""
    target = tmp_path / "targets" / name
    target.parent.mkdir(exist_ok=True)
    if existing:
        target.write_bytes(b"")
    link = tmp_path / name
    link.symlink_to(target)
    return link, target


@pytest.mark.parametrize("existing", [True, False], ids=["to-a-file", "to-nothing-yet"])
def test_eval_writes_its_plot_through_a_link(tmp_path, capsys, monkeypatch, existing):
    """The evaluation is a stand-in: its result's report and picture bytes are what gets written."""
    monkeypatch.chdir(tmp_path)
    fake = SimpleNamespace(report={"accuracy": 1.0}, confusion_png=b"\x89PNG stand-in")
    monkeypatch.setattr("enroll.evaluation.evaluate", lambda *args, **kwargs: fake)
    link, target = _link(tmp_path, "confusion.png", existing)
    code, lines = run("eval", tmp_path, ["--plot", str(link)], capsys)
    assert code == 0, lines
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"\x89PNG stand-in"


def test_face_live_writes_its_video_log_and_report_through_links(tmp_path, capsys, monkeypatch, detector):
    """Five frames of a real clip, the real detector; every output is a link (two to nothing yet)."""
    from facecore.models import Models

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("realtime.cli.Models", SimpleNamespace(build=lambda *args, **kwargs: Models(detector)))
    video, video_target = _link(tmp_path, "out.mp4", existing=False)
    log, log_target = _link(tmp_path, "rec.csv", existing=False)
    report, report_target = _link(tmp_path, "report.json", existing=True)
    code, lines = run("live", tmp_path, ["--output", str(video), "--log", str(log), "--report", str(report),
                                         "--max-frames", "5"], capsys)
    assert code == 0, lines
    for link, target in ((video, video_target), (log, log_target), (report, report_target)):
        assert link.is_symlink() and os.readlink(link) == str(target), link
    assert json.loads(report_target.read_text())["frames"] == 5
    assert log_target.read_text().startswith("time,name,")
    assert video_target.stat().st_size > 0


@pytest.mark.parametrize("kind", ["/dev/null", "fifo"])
@pytest.mark.parametrize("flag", ["--faces", "--sheets"])
def test_face_live_faces_and_review_sheets_want_a_folder(tmp_path, capsys, work_replaced, monkeypatch, flag, kind):
    monkeypatch.setattr("enroll.review.review", _reached)
    path = Path(kind) if kind == "/dev/null" else tmp_path / "faces"
    if kind == "fifo":
        os.mkfifo(path)
    before = _fingerprint(path)
    capsys.readouterr()
    if flag == "--faces":
        from realtime.cli import main

        code = main(_live(tmp_path, [flag, str(path)]))
    else:
        from enroll.cli import main

        code = main(["review", "--headless", "--faces", str(tmp_path / "store"), "--sheets", str(path)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and f"{flag} {path} is " in lines[0] and "not a folder" in lines[0], lines
    assert _fingerprint(path) == before
