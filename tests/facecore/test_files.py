"""Owner-only files written whole: interrupted or failed writes leave no temporary file, and a
full disk is one error naming the file."""

from __future__ import annotations

import errno
import os
import stat

import numpy as np
import pytest

from facecore.errors import StorageError
from facecore.features import FeatureCache
from facecore.files import write_private
from helpers import leftovers, small_tmpfs


def test_write_private_writes_whole_owner_only_files(tmp_path):
    path = write_private(tmp_path / "a.bin", b"one")
    write_private(path, b"two")
    assert path.read_bytes() == b"two" and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_private(path, b"three", overwrite=False)
    assert path.read_bytes() == b"two" and os.listdir(tmp_path) == ["a.bin"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError(errno.ENOSPC, "No space left on device")])
def test_an_interrupted_cache_write_leaves_no_temporary_file(tmp_path, monkeypatch, error):
    """The moment between writing the temporary file and renaming it: Ctrl-C, SIGTERM or a failure."""
    cache = FeatureCache(tmp_path / "cache", "settings")
    cache.put("ann", "0" * 64, np.ones(4, np.float32))

    def fail(*args):
        raise error

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt if error is KeyboardInterrupt else StorageError):
        cache.put("ann", "1" * 64, np.ones(4, np.float32))
    assert leftovers(tmp_path) == []
    assert [p.name for p in (tmp_path / "cache" / "ann").iterdir()] == [f"settings-{'0' * 32}.npy"]


def test_a_full_disk_is_a_storage_error_naming_the_file(tmp_path):
    with small_tmpfs(tmp_path / "full", "16k") as full:
        cache = FeatureCache(full / "cache", "settings")
        with pytest.raises(StorageError) as err:
            for i in range(100):
                digest = f"{i:064d}"[::-1]
                cache.put("ann", digest, np.ones(1000, np.float32))  # 4 kB each
        path = full / "cache" / "ann" / f"settings-{digest[:32]}.npy"
        assert str(err.value) == f"cannot write {path}: No space left on device"
        assert err.value.exit_code == 1 and 1 <= i < 10
        assert leftovers(full) == []
        for entry in (full / "cache" / "ann").iterdir():  # what was written is whole
            assert np.load(entry).shape == (1000,)


def test_write_private_writes_through_a_link_and_never_replaces_a_device_fifo_or_folder(tmp_path):
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    link.symlink_to(target)  # to nothing yet
    write_private(link, b"one")
    assert link.is_symlink() and target.read_bytes() == b"one"
    write_private(link, b"two")  # now over the file it points at
    assert link.is_symlink() and target.read_bytes() == b"two"
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    for path in ("/dev/null", tmp_path / "fifo", tmp_path / "folder"):
        before = os.stat(path)
        with pytest.raises(StorageError, match="not a file"):
            write_private(path, b"x")
        after = os.stat(path)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert leftovers(tmp_path) == []


def test_check_output_refuses_a_socket_and_returns_where_a_link_points(tmp_path):
    import socket

    from facecore.errors import UsageError
    from facecore.files import check_output

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "s.sock"))
        with pytest.raises(UsageError, match=r"^--report .*s\.sock is a socket, not a file"):
            check_output(tmp_path / "s.sock", "--report", "the report", "report.json")
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere" / "report.json")  # its folder does not exist yet
    assert check_output(link, "--report", "the report", "report.json") == tmp_path / "elsewhere" / "report.json"
    assert (tmp_path / "elsewhere").is_dir() and link.is_symlink()
