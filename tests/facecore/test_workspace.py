"""The workspace: which folder (``--workspace`` > ``FACECAM_HOME`` > the current folder), and the
config's relative storage paths taken inside it while command-line paths stay as typed."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest

from facecore.app import load_command_config
from facecore.config import Config
from facecore.errors import UsageError
from facecore.workspace import STORAGE_KEYS, workspace_dir


def _value(config: Config, dotted: str) -> str:
    section, key = dotted.split(".")
    return getattr(getattr(config, section), key)


def test_workspace_flag_beats_facecam_home_which_beats_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert workspace_dir(None, {}) == tmp_path
    assert workspace_dir(None, {"FACECAM_HOME": "~/fc"}) == Path.home() / "fc"
    assert workspace_dir("ws", {"FACECAM_HOME": str(tmp_path / "home")}) == tmp_path / "ws"
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="--workspace file: not a folder"):
        workspace_dir("file", {})
    with pytest.raises(UsageError, match="FACECAM_HOME .*file: not a folder"):
        workspace_dir(None, {"FACECAM_HOME": str(tmp_path / "file")})


def test_config_paths_lie_in_the_workspace_and_flag_paths_stay_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACECAM_HOME", str(tmp_path / "home"))
    config_file = tmp_path / "mine.toml"  # --config itself is relative to the current folder
    config_file.write_text('[train]\nmodel = "models/mine"\ncache_dir = "/abs/cache"\n[faces]\nfolder = ""\n')
    args = Namespace(config="mine.toml", overrides=["log.path=logs/door.csv"], workspace="ws", data="photos",
                     model=None, log=None)
    config = load_command_config(args)
    ws = tmp_path / "ws"
    assert config.train.model == str(ws / "models" / "mine")  # from the file
    assert config.log.path == str(ws / "logs" / "door.csv")  # from --set
    assert config.train.cache_dir == "/abs/cache" and config.faces.folder == ""  # absolute, and off, stay so
    assert config.review.sheets == str(ws / "data" / "review") and config.overlay.screenshot_dir == str(ws / "snapshots")
    assert config.train.data == "photos"  # typed as --data: relative to the current folder

    # FACECAM_HOME when no --workspace; every storage key, none left relative to the current folder
    config = load_command_config(Namespace(config=None, overrides=[], workspace=None))
    for dotted in STORAGE_KEYS:
        assert Path(_value(config, dotted)).is_relative_to(tmp_path / "home"), dotted
    # the current folder by default: the paths are left as they are
    monkeypatch.delenv("FACECAM_HOME")
    assert load_command_config(Namespace(config=None, overrides=[], workspace=None)) == Config()
