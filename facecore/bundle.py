"""Model bundles: a folder with the head's arrays, ``labels.json`` and ``meta.json``.

Writing is atomic: the bundle is assembled in a temporary sibling folder, flushed
to disk and renamed into place, so a crash at any moment leaves either the old
bundle or the new one. Loading executes no code: NumPy arrays without pickle, and
JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BundleError

__all__ = ["Bundle", "save_bundle", "load_bundle", "FORMAT_VERSION", "bundle_exists"]

FORMAT_VERSION = 1
_FILES = ("head.npz", "labels.json", "meta.json")


@dataclass
class Bundle:
    """``arrays``: the head's weights; ``labels``: names by class index; ``meta``: the rest."""

    arrays: dict[str, np.ndarray]
    labels: list[str]
    meta: dict


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
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)


def _old_path(path: Path) -> Path:
    return path.with_name(path.name + ".old")


def save_bundle(path: str | os.PathLike, bundle: Bundle, extra_files: dict[str, bytes] | None = None) -> Path:
    """Write ``bundle`` (and ``extra_files``, e.g. plots) to the folder ``path`` atomically, owner-only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a writer that was killed
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        with open(tmp / "head.npz", "wb") as fh:
            np.savez(fh, **bundle.arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp / "head.npz", 0o600)
        _write_file(tmp / "labels.json", json.dumps(bundle.labels, ensure_ascii=False, indent=1).encode())
        meta = {**bundle.meta, "format_version": FORMAT_VERSION}
        _write_file(tmp / "meta.json", json.dumps(meta, ensure_ascii=False, indent=1).encode())
        for name, data in (extra_files or {}).items():
            _write_file(tmp / name, data)
        _fsync_dir(tmp)
        old = _old_path(path)
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def bundle_exists(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / "meta.json").is_file() or (_old_path(path) / "meta.json").is_file()


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read a bundle; ``BundleError`` with one clear line for anything wrong."""
    path = Path(path)
    if not path.exists() and _old_path(path).is_dir():
        path = _old_path(path)  # a crash fell between the two renames of save_bundle
    if not path.is_dir():
        raise BundleError(f"no model bundle at {path} (train one with: face-enroll train)")
    missing = [name for name in _FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"model bundle {path} is incomplete: missing {', '.join(missing)}")
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
        with np.load(path / "head.npz", allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, UnicodeDecodeError, EOFError, zipfile.BadZipFile) as exc:
        raise BundleError(f"model bundle {path} is corrupt: {exc}".splitlines()[0]) from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(version, int):
        raise BundleError(f"model bundle {path} is corrupt: meta.json has no format_version")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"model bundle {path} has format version {version}; this facecam reads up to {FORMAT_VERSION}: upgrade facecam"
        )
    if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
        raise BundleError(f"model bundle {path} is corrupt: labels.json must be a list of names")
    return Bundle(arrays, labels, meta)
