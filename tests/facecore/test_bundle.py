"""Bundles: atomic writes, owner-only files, no code executed on load, clear errors."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from facecore.bundle import Bundle, FORMAT_VERSION, load_bundle, save_bundle
from facecore.errors import BundleError


def _bundle(tag: str) -> Bundle:
    return Bundle({"centroids": np.eye(2, dtype=np.float32)}, ["ann", "bob"], {"tag": tag, "head": {"kind": "centroid"}})


def test_round_trip_and_permissions(tmp_path):
    path = save_bundle(tmp_path / "m", _bundle("one"), extra_files={"curves.png": b"png"})
    loaded = load_bundle(path)
    assert loaded.labels == ["ann", "bob"] and loaded.meta["tag"] == "one"
    assert loaded.meta["format_version"] == FORMAT_VERSION
    assert np.array_equal(loaded.arrays["centroids"], np.eye(2))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    for f in path.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600


def test_replacing_leaves_no_temporary_folders(tmp_path):
    save_bundle(tmp_path / "m", _bundle("one"))
    save_bundle(tmp_path / "m", _bundle("two"))
    assert load_bundle(tmp_path / "m").meta["tag"] == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_failed_write_keeps_the_old_bundle(tmp_path):
    save_bundle(tmp_path / "m", _bundle("one"))
    bad = Bundle({"x": np.zeros(1)}, ["a"], {"not json": object()})
    with pytest.raises(TypeError):
        save_bundle(tmp_path / "m", bad)
    assert load_bundle(tmp_path / "m").meta["tag"] == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_leftovers_of_a_killed_writer_are_cleaned(tmp_path):
    (tmp_path / ".m.tmp-dead").mkdir()
    (tmp_path / ".m.tmp-dead" / "head.npz").write_bytes(b"half")
    save_bundle(tmp_path / "m", _bundle("one"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_crash_between_renames_falls_back_to_old(tmp_path):
    save_bundle(tmp_path / "m", _bundle("one"))
    os.replace(tmp_path / "m", tmp_path / "m.old")  # the state a crash between the renames leaves
    assert load_bundle(tmp_path / "m").meta["tag"] == "one"


@pytest.mark.parametrize("damage, words", [
    (lambda p: (p / "labels.json").unlink(), "missing labels.json"),
    (lambda p: (p / "meta.json").write_text("{broken"), "corrupt"),
    (lambda p: (p / "head.npz").write_bytes(b"PK\x03\x04garbage"), "corrupt"),
    (lambda p: (p / "meta.json").write_text(json.dumps({"format_version": FORMAT_VERSION + 1})), "upgrade facecam"),
])
def test_damaged_bundles_give_one_clear_line(tmp_path, damage, words):
    path = save_bundle(tmp_path / "m", _bundle("one"))
    damage(path)
    with pytest.raises(BundleError) as err:
        load_bundle(path)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_missing_bundle(tmp_path):
    with pytest.raises(BundleError, match="face-enroll train"):
        load_bundle(tmp_path / "none")


def test_pickled_arrays_are_refused(tmp_path):
    path = save_bundle(tmp_path / "m", _bundle("one"))
    with open(path / "head.npz", "wb") as fh:
        np.savez(fh, centroids=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(BundleError, match="corrupt"):
        load_bundle(path)
