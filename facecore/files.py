"""Owner-only files written whole: a temporary sibling, flushed, then renamed into place.

A crash, a signal or a full disk at any moment leaves the old file or the new one, never
half a file; an interrupted or failed write removes its temporary file. A failed write is
a :class:`~facecore.errors.StorageError` naming the file (disk full, read-only, no access).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import StorageError

__all__ = ["write_private", "writing", "temp_name", "make_dirs_private"]


def temp_name(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: hidden, marked with the pid."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn an ``OSError`` raised inside into a ``StorageError`` naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_private(path: str | os.PathLike, data: bytes, *, overwrite: bool = True, sync: bool = True) -> Path:
    """Write ``data`` to ``path`` whole, mode 0600; ``overwrite=False`` refuses an existing file
    (``FileExistsError``), ``sync`` forces the data to disk before the rename."""
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists: it is never overwritten")
    tmp = temp_name(path)
    try:
        with writing(path):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def make_dirs_private(path: str | os.PathLike) -> Path:
    """Create the folder ``path`` and each missing folder above it readable by the owner only
    (0700); folders that already exist keep their mode. ``OSError`` as ``mkdir`` raises it."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made meanwhile by another run
        os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask
    return path
