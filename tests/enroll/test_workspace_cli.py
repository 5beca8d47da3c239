"""Where the commands keep things: ``--workspace DIR`` and ``FACECAM_HOME`` for every command, a new
workspace named as it is made, and nothing written in a folder that is not a workspace."""

from __future__ import annotations

import shutil

import pytest

from enroll.cli import main
from facecore.images import list_images
from helpers import VIDEOS, need, run_command

STILL = VIDEOS / "obama-biden" / "enroll" / "obama" / "obama.jpg"


def _tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("args, code", [
    (["list"], 0),
    (["review", "--headless"], 0),
    (["review", "--discard", "1"], 2),
    (["review", "--name", "1", "Bob"], 2),
    (["correct", "abc", "--not", "Bob"], 2),
    (["correct", "abc", "--is", "Bob"], 2),
    (["remove", "Bob"], 2),
    (["remove", "Bob", "--everywhere"], 2),
])
def test_reading_commands_in_a_folder_that_is_not_a_workspace_say_so_and_write_nothing(
        tmp_path, monkeypatch, capsys, args, code):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACECAM_HOME", raising=False)
    assert main(args) == code
    out, err = capsys.readouterr()
    said = (err if code else out).strip().splitlines()  # nothing to show is the answer (stdout); else an error
    assert len(said) == 1 and not (out if code else err), (out, err)
    assert f"nobody is enrolled and nothing is kept in the workspace {tmp_path} " in said[0], said
    assert said[0].startswith("face-enroll: error: " if code else "nobody")
    assert _tree(tmp_path) == []
    # the same in a --workspace folder that does not exist: not made
    assert main([*args, "--workspace", "elsewhere"]) == code
    assert f"workspace {tmp_path / 'elsewhere'} " in "".join(capsys.readouterr()) and _tree(tmp_path) == []


def test_review_json_in_an_empty_folder_still_prints_one_json_object(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACECAM_HOME", raising=False)
    assert main(["review", "--json"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == '{"clusters": []}' and "nobody is enrolled" in err and _tree(tmp_path) == []


def test_import_keeps_photos_in_the_workspace_named_by_flag_or_facecam_home(tmp_path, monkeypatch, capsys, detector):
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: detector)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    shutil.copy(need(STILL), tmp_path / "photos" / "obama.jpg")  # a photo argument: relative to the current folder
    monkeypatch.setenv("FACECAM_HOME", str(tmp_path / "home"))
    assert main(["import", "obama", "photos/obama.jpg", "--relax", "--no-train", "--workspace", "ws"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == f"face-enroll: workspace: {tmp_path / 'ws'} (new)"
    assert len(list_images(tmp_path / "ws" / "data" / "people" / "obama")) == 1
    assert main(["import", "obama", "photos/obama.jpg", "--relax", "--no-train"]) == 0  # FACECAM_HOME
    assert capsys.readouterr().err.splitlines()[0] == f"face-enroll: workspace: {tmp_path / 'home'} (new)"
    assert len(list_images(tmp_path / "home" / "data" / "people" / "obama")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "photos", "ws"]  # nothing in the current folder
    assert main(["list", "--workspace", "ws"]) == 0
    out, err = capsys.readouterr()
    assert "obama" in out and "workspace" not in err  # not new any more


def test_eval_writes_its_plot_into_the_workspace_by_default(tmp_path, monkeypatch, capsys):
    """The plot's default folder only: the evaluation itself is a fake (see test_train_eval for the real one)."""
    from types import SimpleNamespace

    import enroll.evaluation

    report = {"accuracy": 1.0, "closed_set_accuracy": 1.0, "unknown_false_accept_rate": None, "n": 1,
              "n_not_enrolled": 0, "n_unknown": 0, "n_skipped": 0, "threshold": 0.5, "person_thresholds": {}}
    fake = SimpleNamespace(report=report, confusion_png=b"\x89PNG fake")
    monkeypatch.setattr(enroll.evaluation, "evaluate", lambda *a, **k: fake)
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(tmp_path), "--workspace", "ws", "--json"]) == 0
    assert (tmp_path / "ws" / "confusion.png").read_bytes() == b"\x89PNG fake"
    assert not (tmp_path / "confusion.png").exists()
    assert main(["eval", str(tmp_path), "--workspace", "ws", "--plots", "here", "--json"]) == 0  # typed: as typed
    assert (tmp_path / "here" / "confusion.png").exists()


@pytest.mark.slow  # a real face-live process, its models built
def test_face_live_logs_into_the_workspace_it_names(tmp_path):
    clip = need(VIDEOS / "obama-biden" / "obama.mp4")
    done = run_command("realtime.cli", "--source", str(clip), "--headless", "--max-frames", "2",
                       "--workspace", "ws", env={"FACECAM_HOME": ""}, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == f"face-live: workspace: {tmp_path / 'ws'} (new)"
    assert (tmp_path / "ws" / "logs" / "recognitions.csv").is_file()
    assert (tmp_path / "ws" / "data" / "outputs.json").is_file()  # the registry of what it wrote, for remove
    assert [p.name for p in tmp_path.iterdir()] == ["ws"]
