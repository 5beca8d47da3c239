"""Issue 13, privacy first: a removed person never stays in the model, whatever fails after
the command starts (no backbone weights, a full disk), a plain command keeps the bundle's
backbone, a bundle folder that is a link is handled, and a broken training result does not
silently replace a working bundle.

Real commands on real LFW photos, as real processes where the exit code and stderr matter.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess

import pytest

from enroll.cli import main
from enroll.training import train
from facecore.bundle import bundle_exists, load_bundle, read_meta
from facecore.errors import DataError
from helpers import FACENET_H5, copy_people, lfw_people, need, run_command

GONE, KEPT = "Britney_Spears", ["Abdullah_Gul", "Amelie_Mauresmo"]


def _assert_no_trace(root, name: str) -> None:
    for path in root.rglob("*"):
        assert name not in str(path), path
        assert not path.is_file() or name.encode() not in path.read_bytes(), path


def _workspace(tmp_path, weights) -> None:
    """data/people with three LFW people, trained with facenet (the weights file ``weights``) by a
    real ``face-enroll train`` run in ``tmp_path`` with the default folders."""
    copy_people(tmp_path / "data" / "people", lfw_people([GONE, *KEPT], 0, 3))
    done = run_command("enroll.cli", "train", "--quiet", "--set", "backbone.name=facenet",
                       "--set", f"backbone.weights={weights}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "models" / "current" / "labels.json").read_text()) == sorted([GONE, *KEPT])


@pytest.mark.slow
def test_plain_train_and_remove_keep_the_bundles_backbone(tmp_path):
    """A workspace trained with facenet: `face-enroll train` and `face-enroll remove NAME`, with no
    backbone settings at all, retrain with facenet (before, they switched to VGG16 and failed
    offline, leaving the person in the model)."""
    _workspace(tmp_path, need(FACENET_H5))
    done = run_command("enroll.cli", "train", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert read_meta(tmp_path / "models" / "current")["backbone"]["name"] == "facenet"
    done = run_command("enroll.cli", "remove", GONE, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "retrained" in done.stdout
    bundle = load_bundle(tmp_path / "models" / "current")
    assert bundle.labels == KEPT and bundle.meta["backbone"]["name"] == "facenet"
    _assert_no_trace(tmp_path, GONE)


@pytest.mark.slow
def test_remove_takes_the_person_out_of_the_bundle_when_retraining_fails(tmp_path):
    """The weights the bundle was trained with are gone: retraining fails, and the person is taken
    out of the bundle directly; the others are still recognised with it."""
    weights = tmp_path / "weights" / "facenet.h5"
    weights.parent.mkdir()
    shutil.copy(need(FACENET_H5), weights)
    _workspace(tmp_path, weights)
    weights.unlink()
    done = run_command("enroll.cli", "remove", GONE, cwd=tmp_path)
    err = done.stderr.strip()
    assert done.returncode == 1 and len(err.splitlines()) == 1, err
    assert err.startswith(f"face-enroll: error: retraining without {GONE} failed (backbone weights file not found")
    assert "taken out of the model bundle directly" in err
    assert load_bundle(tmp_path / "models" / "current").labels == KEPT
    _assert_no_trace(tmp_path, GONE)


def _fill(folder) -> None:
    """Fill the file system of ``folder`` to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        for chunk in (b"\0" * 65536, b"\0" * 512, b"\0"):
            try:
                while True:
                    fh.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs at tmp_path/models (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill up needs root")
    mount = tmp_path / "models"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)])


@pytest.mark.slow
def test_remove_on_a_full_disk_leaves_no_bundle_that_holds_the_person(tmp_path, small_disk):
    _workspace(tmp_path, need(FACENET_H5))
    _fill(small_disk)
    done = run_command("enroll.cli", "remove", GONE, cwd=tmp_path)
    assert f"cannot rewrite the model bundle without {GONE}" in done.stderr  # the disk was full for it
    if done.returncode == 0:  # deleting the old bundle made room for the retrained one
        assert load_bundle(tmp_path / "models" / "current").labels == KEPT
    else:
        assert "the model bundle was deleted" in done.stderr
        assert not bundle_exists(tmp_path / "models" / "current")
    _assert_no_trace(tmp_path / "models", GONE)
    _assert_no_trace(tmp_path / "data", GONE)


def test_everyone_removed_through_a_linked_bundle_folder_leaves_no_bundle(tmp_path, monkeypatch, capsys,
                                                                          facenet_config, facenet_models):
    """models/current is a link to a folder elsewhere: training twice and removing everyone leaves no
    `current.old`, `list` says nobody is enrolled, and no bundle can be loaded any more."""
    monkeypatch.setattr("facecore.backbones.build_backbone", lambda *args, **kw: facenet_models.backbone)
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: facenet_models.detector)
    data = copy_people(tmp_path / "data" / "people", lfw_people([GONE, *KEPT], 0, 3))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "models").mkdir()
    link = tmp_path / "models" / "current"
    link.symlink_to(tmp_path / "elsewhere" / "bundle", target_is_directory=True)
    config = facenet_config.replace(train={"cache_dir": str(tmp_path / "data" / "cache")})
    train(config, data, link, models=facenet_models, progress=False)
    train(config, data, link, models=facenet_models, progress=False)
    args = ["--data", str(data), "--model", str(link), "--set", f"train.cache_dir={tmp_path / 'data' / 'cache'}"]
    for name in (GONE, *KEPT):
        assert main(["remove", name, *args]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "nobody is enrolled" in out
    assert main(["list", *args]) == 0 and "nobody is enrolled" in capsys.readouterr().out
    assert not bundle_exists(link) and sorted(p.name for p in (tmp_path / "models").iterdir()) == ["current"]
    for name in (GONE, *KEPT):
        _assert_no_trace(tmp_path, name)


def test_a_clearly_broken_training_result_does_not_replace_a_working_bundle(tmp_path, facenet_config,
                                                                             facenet_models):
    """Photos shuffled between people (a broken data folder) train a model whose validation accuracy
    is far below the current bundle's: the current bundle stays, unless forced."""
    people = lfw_people([GONE, *KEPT], 0, 8)
    data = copy_people(tmp_path / "people", people)
    config = facenet_config.replace(train={"cache_dir": str(tmp_path / "cache")})
    model = tmp_path / "model"
    good = train(config, data, model, models=facenet_models, progress=False)
    assert good.metrics["val_accuracy"] >= 0.6
    names = [GONE, *KEPT]
    mixed = {name: [people[names[(i + k) % 3]][k] for k in range(8)] for i, name in enumerate(names)}
    shuffled = copy_people(tmp_path / "shuffled", mixed)
    with pytest.raises(DataError, match="the new model looks broken .* the current bundle at .* is kept"):
        train(config, shuffled, model, models=facenet_models, progress=False)
    assert load_bundle(model).meta["metrics"] == good.metrics
    forced = train(config, shuffled, model, models=facenet_models, progress=False, force=True)
    assert load_bundle(model).meta["metrics"] == forced.metrics


def test_a_degenerate_threshold_never_replaces_a_bundle_and_one_naming_nobody_only_when_forced(tmp_path):
    """The last check before a training result is written, on a real bundle on disk (threshold 0.6):
    a threshold that is not a finite score in (0, 1] is refused even with force; one of 0.999 or
    more, which would name almost nobody, is refused unless forced; an ordinary one passes."""
    import numpy as np

    from enroll.training import _check_replacement
    from facecore.bundle import Bundle, save_bundle
    from helpers import BUNDLE_META

    model = tmp_path / "model"
    save_bundle(model, Bundle({"centroids": np.eye(2, dtype=np.float32)}, ["ann", "bob"],
                              {**BUNDLE_META, "metrics": {"val_accuracy": 0.9}}))
    before = (model / "meta.json").read_bytes()
    metrics = {"val_accuracy": 0.9}
    for bad in (float("nan"), float("inf"), -5.0, 0.0, 1.5):
        for force in (False, True):
            with pytest.raises(DataError, match="calibration gave a threshold of .*: nothing was written"):
                _check_replacement(model, metrics, bad, force)
    with pytest.raises(DataError, match="would name almost nobody.*the current bundle at .* is kept"):
        _check_replacement(model, metrics, 0.9995, False)
    _check_replacement(model, metrics, 0.9995, True)  # forced: a warning, no error
    _check_replacement(model, metrics, 0.65, False)
    assert (model / "meta.json").read_bytes() == before
