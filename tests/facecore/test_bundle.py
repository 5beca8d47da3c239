"""Bundles: atomic writes, owner-only files, no code executed on load, every field checked,
writers serialised, readers never see a half-replaced bundle, links resolved once."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from facecore.bundle import (Bundle, BundleWatcher, FORMAT_VERSION, bundle_exists, bundle_id, delete_bundle,
                             load_bundle, save_bundle)
from facecore.errors import BundleError
from helpers import BUNDLE_META as META
from helpers import REPO


def _bundle(tag: str) -> Bundle:
    return Bundle({"centroids": np.eye(2, dtype=np.float32)}, ["ann", "bob"], {**META, "metrics": {"tag": tag}})


def _tag(path) -> str:
    return load_bundle(path).meta["metrics"]["tag"]


def test_round_trip_and_permissions(tmp_path):
    path = save_bundle(tmp_path / "m", _bundle("one"), extra_files={"curves.png": b"png"})
    loaded = load_bundle(path)
    assert loaded.labels == ["ann", "bob"] and _tag(path) == "one"
    assert loaded.meta["format_version"] == FORMAT_VERSION
    assert np.array_equal(loaded.arrays["centroids"], np.eye(2))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    for f in path.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600


def test_every_save_gets_a_new_id_and_the_watcher_sees_each_change(tmp_path):
    clock = [0.0]
    save_bundle(tmp_path / "m", _bundle("one"))
    first = bundle_id(tmp_path / "m")
    watcher = BundleWatcher(tmp_path / "m", first, every_s=2.0, clock=lambda: clock[0])
    save_bundle(tmp_path / "m", _bundle("two"))
    assert bundle_id(tmp_path / "m") not in (first, None) and len(first) == 32
    assert not watcher.poll()  # not looked at before every_s has passed
    clock[0] = 2.0
    assert watcher.poll() and not watcher.poll()
    delete_bundle(tmp_path / "m")
    clock[0] = 4.0
    assert watcher.poll() and watcher.current is None
    clock[0] = 6.0
    assert not watcher.poll()


def test_replacing_leaves_no_temporary_folders(tmp_path):
    save_bundle(tmp_path / "m", _bundle("one"))
    save_bundle(tmp_path / "m", _bundle("two"))
    assert _tag(tmp_path / "m") == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]


def test_failed_write_keeps_the_old_bundle(tmp_path):
    save_bundle(tmp_path / "m", _bundle("one"))
    bad = Bundle({"x": np.zeros(1)}, ["a"], {"not json": object()})
    with pytest.raises(TypeError):
        save_bundle(tmp_path / "m", bad)
    assert _tag(tmp_path / "m") == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]


def test_leftovers_of_a_killed_writer_are_cleaned(tmp_path):
    (tmp_path / ".m.tmp-dead").mkdir()
    (tmp_path / ".m.tmp-dead" / "head.npz").write_bytes(b"half")
    save_bundle(tmp_path / "m", _bundle("one"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]


def test_crash_between_renames_falls_back_to_old(tmp_path):
    save_bundle(tmp_path / "m", _bundle("one"))
    os.replace(tmp_path / "m", tmp_path / "m.old")  # the state a crash between the renames leaves
    assert bundle_exists(tmp_path / "m") and _tag(tmp_path / "m") == "one"
    assert delete_bundle(tmp_path / "m") and not bundle_exists(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock"]


def test_a_bundle_folder_that_is_a_link_is_replaced_and_deleted_where_it_points(tmp_path):
    """models/current -> elsewhere: no `current.old` link is left behind that a later command
    cannot delete, and deleting leaves no bundle to load."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "models").mkdir()
    link = tmp_path / "models" / "current"
    link.symlink_to(tmp_path / "elsewhere" / "bundle-a", target_is_directory=True)
    save_bundle(link, _bundle("one"))
    save_bundle(link, _bundle("two"))
    assert _tag(link) == "two" and link.is_symlink()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["current"]
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == [".bundle-a.lock", "bundle-a"]
    assert delete_bundle(link) and not bundle_exists(link)
    with pytest.raises(BundleError, match="no model bundle"):
        load_bundle(link)
    assert not (tmp_path / "elsewhere" / "bundle-a").exists()


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _edit(path, **changes):
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, **changes}))


def _arrays(path, **arrays):
    with open(path / "head.npz", "wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize("damage, words", [
    (lambda p: (p / "labels.json").unlink(), "missing labels.json"),
    (lambda p: (p / "meta.json").write_text("{broken"), "corrupt"),
    (lambda p: (p / "head.npz").write_bytes(b"PK\x03\x04garbage"), "corrupt"),
    (lambda p: (p / "labels.json").write_text(_deep(100_000)), "corrupt"),
    (lambda p: _edit(p, format_version=FORMAT_VERSION + 1), "upgrade facecam"),
    (lambda p: _edit(p, threshold=-5), "threshold must be a number in (0.0, 1.0], got -5"),
    (lambda p: _edit(p, threshold=7), "threshold must be a number in (0.0, 1.0], got 7"),
    (lambda p: (p / "meta.json").write_text((p / "meta.json").read_text().replace('"threshold": 0.6', '"threshold": NaN')),
     "threshold must be a number in (0.0, 1.0], got nan"),
    (lambda p: _edit(p, threshold="0.6"), "threshold must be a number"),
    (lambda p: _edit(p, threshold=None), "threshold must be a number"),
    (lambda p: _edit(p, head={"kind": "forest"}), "head.kind must be one of centroid, linear, mlp, got 'forest'"),
    (lambda p: _edit(p, head="centroid"), "head must be a table"),
    (lambda p: _edit(p, backbone={"name": "vgg16", "input_size": "224", "weights_id": "none"}),
     "backbone.input_size must be an integer"),
    (lambda p: _edit(p, crop={"margin": 0.1, "align": "yes"}), "crop.align must be true or false"),
    (lambda p: _edit(p, crop={"margin": 0.1, "tilt": 3}), "unknown key crop.tilt"),
    (lambda p: _edit(p, people={"ann": -1}), "people must map names to image counts"),
    (lambda p: (p / "labels.json").write_text('["ann", "ann"]'), "names someone twice"),
    (lambda p: (p / "labels.json").write_text('["ann", 7]'), "labels.json must be a non-empty list of names"),
    (lambda p: _arrays(p, centroids=np.full((2, 2), np.nan, np.float32)), "centroids must hold finite numbers"),
    (lambda p: _arrays(p, centroids=np.eye(3, dtype=np.float32)), "centroids must be (2, d) for 2 labels"),
    (lambda p: _arrays(p, other=np.eye(2)), "has no centroids"),
])
def test_damaged_or_wrong_bundles_give_one_line_naming_the_field(tmp_path, damage, words):
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


def test_a_reader_waits_for_a_writer_in_the_middle_of_its_swap(tmp_path):
    """The worst moment for a reader: the old bundle moved to `m.old`, the new one not yet in
    place, and `m.old` about to be deleted. A writer holds the lock then: the reader waits and
    gets the new bundle whole, instead of reading files that are being deleted."""
    path = save_bundle(tmp_path / "m", _bundle("one"))
    new = save_bundle(tmp_path / "staged", _bundle("two"))
    lock = os.open(tmp_path / ".m.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # the writer's lock
    os.replace(path, tmp_path / "m.old")
    got = []
    reader = threading.Thread(target=lambda: got.append(_tag(path)))
    reader.start()
    reader.join(0.5)
    assert reader.is_alive() and not got, "the reader did not wait for the writer"
    os.replace(new, path)
    shutil.rmtree(tmp_path / "m.old")
    os.close(lock)  # releases it
    reader.join(10)
    assert got == ["two"]


def test_a_second_writer_waits_and_never_deletes_the_first_ones_work(tmp_path):
    path = save_bundle(tmp_path / "m", _bundle("one"))
    lock = os.open(tmp_path / ".m.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a first writer, busy
    live_tmp = tmp_path / ".m.tmp-busywriter"
    live_tmp.mkdir()
    writer = threading.Thread(target=save_bundle, args=(path, _bundle("two")))
    writer.start()
    writer.join(0.5)
    assert writer.is_alive() and live_tmp.is_dir(), "the second writer did not wait"
    shutil.rmtree(live_tmp)  # the first writer finishes
    os.close(lock)
    writer.join(10)
    assert _tag(path) == "two"


_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from facecore.bundle import Bundle, save_bundle
    from test_bundle import META
    path, tag, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(times):
        labels = [f"{tag}-{i}-{j}" for j in range(3)]
        save_bundle(path, Bundle({"centroids": np.full((3, 8), i, np.float32)}, labels, {**META, "metrics": {"i": i}}))
""")
_LOADER = textwrap.dedent("""
    import sys
    from facecore.bundle import load_bundle
    from facecore.errors import BundleError
    path, times = sys.argv[1], int(sys.argv[2])
    failures = []
    for _ in range(times):
        try:
            b = load_bundle(path)
            i = b.meta["metrics"]["i"]
            assert all(label.split("-")[1] == str(i) for label in b.labels), (i, b.labels)  # one save, not two
            assert float(b.arrays["centroids"][0, 0]) == i
        except (BundleError, AssertionError) as exc:
            failures.append(str(exc))
    print(len(failures), failures[:3])
""")


def _python(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests'}:{REPO / 'tests' / 'facecore'}"}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_concurrent_writers_and_readers_never_see_a_missing_or_mixed_bundle(tmp_path):
    """Two processes saving in a loop and two loading 500 times each, all at once: every load gets
    one whole bundle (0 failures in 1,000), and both writers finish without errors."""
    path = tmp_path / "models" / "current"
    save_bundle(path, Bundle({"centroids": np.zeros((3, 8), np.float32)}, ["w-0-0", "w-0-1", "w-0-2"],
                             {**META, "metrics": {"i": 0}}))
    writers = [_python(_SAVER, str(path), tag, "60") for tag in ("a", "b")]
    readers = [_python(_LOADER, str(path), "500") for _ in range(2)]
    for proc in writers + readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        if proc in readers:
            assert out.startswith("0 "), out
    assert sorted(p.name for p in path.parent.iterdir()) == [".current.lock", "current"]
