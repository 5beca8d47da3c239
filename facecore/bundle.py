"""Model bundles: a folder with the head's arrays, ``labels.json`` and ``meta.json``.

1. Writers are serialised by an exclusive lock on ``.<name>.lock`` beside the folder;
   the bundle is assembled in a temporary sibling folder, flushed to disk and renamed
   into place, so a crash at any moment leaves either the old bundle or the new one;
   Ctrl-C and SIGTERM take effect once the write is over.
2. Readers hold the same lock shared while they read, so they never see a bundle
   half-replaced; a folder missing between the two renames of a killed writer is
   found again as ``<name>.old``.
3. A bundle folder given as a symbolic link is resolved once: the folder it points at
   is the one replaced or deleted.
4. Loading executes no code (NumPy arrays without pickle, and JSON) and checks every
   field (:mod:`facecore.bundle_schema`): a wrong one is a :class:`BundleError` naming it.

Every saved bundle gets a new ``meta["id"]``: a running ``face-live`` compares it to
notice a new bundle (:class:`BundleWatcher`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import tempfile
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .bundle_schema import check_bundle_fields
from .errors import BundleError

__all__ = ["Bundle", "save_bundle", "load_bundle", "delete_bundle", "bundle_exists", "bundle_id",
           "read_meta", "trained_backbone", "real_bundle_path", "BundleWatcher", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_FILES = ("head.npz", "labels.json", "meta.json")


@dataclass
class Bundle:
    """``arrays``: the head's weights; ``labels``: names by class index; ``meta``: the rest."""

    arrays: dict[str, np.ndarray]
    labels: list[str]
    meta: dict

    @property
    def id(self) -> str:
        return str(self.meta.get("id", ""))


def real_bundle_path(path: str | os.PathLike) -> Path:
    """``path``, or the folder it points at when it is a symbolic link (resolved once, here)."""
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


def _old_path(path: Path) -> Path:
    return path.with_name(path.name + ".old")


@contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside ``path``: exclusive for writers, shared for readers. A
    reader that cannot open or create the lock file (a read-only folder) reads unlocked."""
    lock = path.parent / f".{path.name}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        if exclusive:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back meanwhile (delivered right after): an interrupt raised inside
    NumPy's zip writer leaves it half-built and turns into an unrelated error."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _remove(path: Path) -> None:
    """Delete a folder, a file or a link at ``path`` (nothing there is fine)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)


def _assemble(tmp: Path, bundle: Bundle, meta: dict, extra_files: dict[str, bytes]) -> None:
    with open(tmp / "head.npz", "wb") as fh:
        np.savez(fh, **bundle.arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp / "head.npz", 0o600)
    _write_file(tmp / "labels.json", json.dumps(bundle.labels, ensure_ascii=False, indent=1).encode())
    _write_file(tmp / "meta.json", json.dumps(meta, ensure_ascii=False, indent=1, allow_nan=False).encode())
    for name, data in extra_files.items():
        _write_file(tmp / name, data)
    _fsync_dir(tmp)


def save_bundle(path: str | os.PathLike, bundle: Bundle, extra_files: dict[str, bytes] | None = None) -> Path:
    """Write ``bundle`` (and ``extra_files``, e.g. plots) to the folder ``path`` atomically,
    owner-only, its meta given a new ``id``; returns the folder written (links resolved)."""
    path = real_bundle_path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    meta = {**bundle.meta, "format_version": FORMAT_VERSION, "id": uuid.uuid4().hex}
    with _locked(path, exclusive=True), _signals_held():
        for stale in path.parent.glob(f".{path.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a writer that was killed
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
        try:
            _assemble(tmp, bundle, meta, extra_files or {})
            old = _old_path(path)
            _remove(old)
            if path.exists():
                os.replace(path, old)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
            _remove(old)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return path


def delete_bundle(path: str | os.PathLike) -> bool:
    """Delete the bundle at ``path`` with every copy a crash may have left; True when one was there."""
    path = real_bundle_path(path)
    if not path.parent.is_dir():
        return False
    with _locked(path, exclusive=True):
        had = bundle_exists(path)
        for leftover in (path, _old_path(path), *path.parent.glob(f".{path.name}.tmp-*")):
            _remove(leftover)
    return had


def bundle_exists(path: str | os.PathLike) -> bool:
    path = real_bundle_path(path)
    return (path / "meta.json").is_file() or (_old_path(path) / "meta.json").is_file()


def _read(path: Path) -> Bundle:
    missing = [name for name in _FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"model bundle {path} is incomplete: missing {', '.join(missing)}")
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
        with np.load(path / "head.npz", allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, UnicodeDecodeError, EOFError, RecursionError, zipfile.BadZipFile) as exc:
        raise BundleError(f"model bundle {path} is corrupt: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    return Bundle(arrays, labels, meta)


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and check a bundle; ``BundleError`` with one clear line for anything wrong."""
    path = real_bundle_path(path)
    if not path.parent.is_dir():
        raise BundleError(f"no model bundle at {path} (train one with: face-enroll train)")
    with _locked(path, exclusive=False):
        if not path.exists() and _old_path(path).is_dir():
            path = _old_path(path)  # a writer was killed between its two renames
        if not path.is_dir():
            raise BundleError(f"no model bundle at {path} (train one with: face-enroll train)")
        bundle = _read(path)
    version = bundle.meta.get("format_version") if isinstance(bundle.meta, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise BundleError(f"model bundle {path} has format version {version}; this facecam reads up to "
                          f"{FORMAT_VERSION}: upgrade facecam")
    check_bundle_fields(bundle.meta, bundle.labels, bundle.arrays, str(path))
    return bundle


def read_meta(path: str | os.PathLike) -> dict | None:
    """``meta.json`` of the bundle at ``path`` as it is, unchecked; ``None`` when there is none or it
    cannot be read. Cheap and lenient: for watching, and for settings taken from a bundle."""
    path = real_bundle_path(path)
    for folder in (path, _old_path(path)):
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        return meta if isinstance(meta, dict) else None
    return None


def bundle_id(path: str | os.PathLike) -> str | None:
    """The id of the bundle at ``path`` (``""`` for one saved without an id), ``None`` when none."""
    meta = read_meta(path)
    return None if meta is None else str(meta.get("id", ""))


def trained_backbone(meta: dict | None) -> dict | None:
    """``{"name", "weights"}`` of the backbone a bundle was trained with, as config values, from its
    meta's ``backbone.weights`` (or, for a bundle without it, a ``weights_id`` of ``imagenet`` or
    ``none``); ``None`` when the meta does not say."""
    backbone = meta.get("backbone") if isinstance(meta, dict) else None
    if not isinstance(backbone, dict) or not isinstance(backbone.get("name"), str):
        return None
    weights = backbone.get("weights")
    if not isinstance(weights, str) and backbone.get("weights_id") in ("imagenet", "none"):
        weights = backbone["weights_id"]
    return {"name": backbone["name"], "weights": weights} if isinstance(weights, str) else None


class BundleWatcher:
    """Notices that the bundle at ``path`` changed: another id, or gone, or new.

    ``poll()`` looks at most every ``every_s`` seconds (``clock`` time) and returns True
    once per change. Reading the id is one small JSON file.
    """

    def __init__(self, path: str | os.PathLike, current: str | None, every_s: float = 2.0,
                 clock=time.monotonic) -> None:
        self.path, self.current, self.every_s, self._clock = Path(path), current, every_s, clock
        self._next = clock() + every_s

    def poll(self) -> bool:
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self.every_s
        seen = bundle_id(self.path)
        if seen == self.current:
            return False
        self.current = seen
        return True
