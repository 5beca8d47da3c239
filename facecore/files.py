"""Owner-only files written whole: a temporary sibling, flushed, then renamed into place.

A crash, a signal or a full disk at any moment leaves the old file or the new one, never
half a file; an interrupted or failed write removes its temporary file. A failed write is
a :class:`~facecore.errors.StorageError` naming the file (disk full, read-only, no access).
A symbolic link is written through (the file it points at is replaced; the link stays), and
a folder, device, FIFO or socket is never replaced.

Every path a command is given to write to (``--output``, ``--log``, ``--report``, ``--plot``,
and the folders ``--plots``, ``--faces``, ``--sheets``) passes one rule before any work
starts, :func:`check_output` (a file) or :func:`check_output_folder` (a folder):

1. a device, a FIFO or a socket -- at the path, or where its link points -- is refused, and so
   is a folder where a file is wanted or a file where a folder is wanted (``UsageError``: one
   line, exit code 2);
2. a symbolic link is written through: the path it points at is what gets written;
3. a folder that is missing is made at once (``FacecamError``, exit code 1, when it cannot be:
   a file in its way, no permission), so the run never fails at its end for want of it.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import FacecamError, StorageError, UsageError

__all__ = ["write_private", "writing", "temp_name", "make_dirs_private", "check_output", "check_output_folder",
           "special_kind"]


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


def special_kind(path: str | os.PathLike) -> str:
    """What ``path`` (followed through links) is when it is not a regular file nor a folder: ``"a
    device"``, ``"a FIFO (named pipe)"`` or ``"a socket"``; ``""`` otherwise (or when absent)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ""
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    return "a socket" if stat.S_ISSOCK(mode) else ""


def _target(path: Path) -> Path:
    """Where writing ``path`` lands: the file its symbolic link points at, or ``path`` itself."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _make_folder(folder: Path, path: Path, what: str) -> None:
    """Make ``folder`` (``path``'s) when missing, owner-only as every folder facecam makes (an
    existing folder keeps its mode); ``FacecamError`` naming ``what`` when it cannot be."""
    try:
        make_dirs_private(folder)
    except (FileExistsError, NotADirectoryError):
        raise FacecamError(f"cannot write {what} {path}: a file is in the way of its folder") from None
    except OSError as exc:
        raise FacecamError(f"cannot create the folder of {what} {path}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK):
        raise FacecamError(f"cannot write {what} {path}: its folder is not writable")


def check_output(path: str | os.PathLike, flag: str, what: str, example: str) -> Path:
    """The module's rule for a file to be written at ``path``, given as ``flag`` (``"--report"``):
    ``what`` names it in messages (``"the report"``), ``example`` is a file name to suggest when
    ``path`` is a folder. Returns the path to write: ``path``, or the file its link points at."""
    path = Path(path)
    target = _target(path)
    via = f" (its link points at {target})" if target != path else ""
    if target.is_dir():
        raise UsageError(f"{flag} {path} is a folder{via}: give a file name, such as {path / example}")
    kind = special_kind(target)
    if kind:
        raise UsageError(f"{flag} {path} is {kind}{via}, not a file: give the name of a file to write")
    _make_folder(target.parent, path, what)
    return target


def check_output_folder(path: str | os.PathLike, flag: str, what: str, make: bool = True) -> Path:
    """The module's rule for a folder that files are written into, given as ``flag``; with
    ``make``, made now when missing, owner-only (0700; else it is made when first written to).
    Returns ``path``."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        kind = special_kind(path) or ("a link to nothing" if not path.exists() else "a file")
        raise UsageError(f"{flag} {path} is {kind}, not a folder: give a folder for {what}")
    if make:
        _make_folder(path, path, what)
    return path


def write_private(path: str | os.PathLike, data: bytes, *, overwrite: bool = True, sync: bool = True) -> Path:
    """Write ``data`` to ``path`` whole, mode 0600 (a link: to the file it points at); ``overwrite=False``
    refuses an existing file (``FileExistsError``), ``sync`` forces the data to disk before the
    rename. A folder, device, FIFO or socket at ``path`` is a ``StorageError``, never replaced."""
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists: it is never overwritten")
    target = _target(path)
    if target.is_dir() or special_kind(target):
        raise StorageError(f"cannot write {path}: it is {special_kind(target) or 'a folder'}, not a file")
    tmp = temp_name(target)
    try:
        with writing(path):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            os.replace(tmp, target)
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
