"""One meaning per name, one rule of precedence: the renamed keys and flags keep working under their
old spelling with one warning line each, and ``--set`` applies last, after the commands' flags."""

from __future__ import annotations

import logging
from argparse import Namespace

import pytest

from facecore import config as config_module
from facecore.app import load_command_config
from facecore.config import load_config


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(config_module, "_warned", set())  # each test sees its own first warning


def _deprecations(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]


def test_old_spellings_in_a_config_file_are_read_as_the_new_keys_with_one_line_each(tmp_path, caplog):
    path = tmp_path / "mine.toml"
    path.write_text('[camera]\nsource = "door.mp4"\n[overlay]\nsnapshot_dir = "shots"\n')
    with caplog.at_level(logging.WARNING):
        first, again = load_config(path), load_config(path)
    assert first.camera.sources == ["door.mp4"] and first.sources == ["door.mp4"]
    assert first.overlay.screenshot_dir == "shots" and again == first
    lines = _deprecations(caplog)
    assert len(lines) == 2, lines  # once each, however often the file is read
    assert any(f"{path}: camera.source is deprecated: write camera.sources instead" in line for line in lines)
    assert any("overlay.snapshot_dir is deprecated: write overlay.screenshot_dir instead" in line for line in lines)


def test_an_old_spelling_from_set_works_and_the_new_key_wins_when_both_are_given(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_config(None, ["camera.source=2"]).camera.sources == ["2"]  # a camera index, as before
        assert load_config(None, ['camera.source="cam.mp4"']).sources == ["cam.mp4"]
    path = tmp_path / "both.toml"
    path.write_text('[camera]\nsource = "old.mp4"\nsources = ["new.mp4"]\n')
    assert load_config(path).sources == ["new.mp4"]
    assert len(_deprecations(caplog)) == 1


def test_without_sources_the_one_source_is_camera_0():
    assert load_config().sources == ["0"]


def _args(**flags) -> Namespace:
    base = {"config": None, "overrides": [], "workspace": None, "log": None, "model": None, "source": None}
    return Namespace(**{**base, **flags})


def test_set_applies_after_the_flags_of_the_command(tmp_path):
    log, other = str(tmp_path / "flag.csv"), str(tmp_path / "set.csv")
    assert load_command_config(_args(log=log)).log.path == log
    assert load_command_config(_args(log=log, overrides=[f"log.path={other}"])).log.path == other
    assert load_command_config(_args(source="3")).sources == ["3"]  # face-enroll's one --source
    assert load_command_config(_args(source=["a.mp4", "b.mp4"], overrides=['camera.sources=["c.mp4"]'])).sources \
        == ["c.mp4"]


def test_face_live_reads_the_old_snapshots_flag_as_faces_with_one_line(tmp_path, capsys):
    from realtime.cli import main

    not_a_folder, photos = tmp_path / "file", tmp_path / "photos"
    not_a_folder.write_text("")
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"")
    code = main(["--source", str(photos), "--headless", "--log", "", "--snapshots", str(not_a_folder)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err[0] == "face-live: warning: --snapshots is deprecated: write --faces DIR instead (read as that now)"
    assert len(err) == 2 and f"--faces {not_a_folder} is " in err[1] and "not a folder" in err[1], err
