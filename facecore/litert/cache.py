"""Converted models kept on disk, one ``.tflite`` file per model and weights, rebuilt when needed.

A model is named (``facenet``, ``pnet``) and keyed (``key``: the SHA-256 of its weights file
together with the converter's version, see :func:`model_key`). Its file is
``<folder>/<name>-<key[:16]>.tflite`` with a sidecar ``<same>.json`` holding the whole key, the
file's size and its SHA-256:

- a file that is missing is converted, with one line saying so (at INFO level);
- one whose sidecar is missing or names another key (stale), or whose size or hash differs
  from its sidecar's (damaged, or half-written by something else) is converted again, with one
  warning saying so and why. What the converter prints is kept off the terminal;
- the file and then its sidecar are each written whole (a temporary sibling, flushed, renamed
  into place), so a reader sees an old pair, a new pair, or a new file with an old sidecar,
  which it takes as damaged and waits for;
- a conversion holds a lock file (``<name>-<key[:16]>.lock``): two processes converting at once
  convert once; the second waits for the first and then uses its file.

The folder is ``$FACECAM_HOME/weights/litert/`` when ``FACECAM_HOME`` is set, else
``${XDG_CACHE_HOME:-~/.cache}/facecam/litert/`` (beside the weights, see ``facecore.weights``).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import hashlib
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping

from ..app import native_stderr_silenced
from ..errors import ModelError
from ..files import make_dirs_private, write_private, writing
from ..weights import cache_dir, file_sha256

__all__ = ["converted", "cache_folder", "model_key", "cached_path", "is_current"]

log = logging.getLogger(__name__)


def cache_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """Where converted models are kept unless a caller names a folder (see the module's docstring)."""
    return cache_dir(environ) / "litert"


def model_key(weights_sha256: str, *parts: str) -> str:
    """The key of a converted model: the SHA-256 (hex) of the weights' SHA-256 and ``parts`` (the
    converter's and the model code's versions), so that any of them changing makes a new file."""
    return hashlib.sha256("\n".join((weights_sha256, *parts)).encode()).hexdigest()


def cached_path(name: str, key: str, folder: Path | None = None) -> Path:
    """Where the model ``name`` converted under ``key`` is kept (it may not be there)."""
    return Path(folder if folder is not None else cache_folder()) / f"{name}-{key[:16]}.tflite"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _problem(path: Path, key: str) -> str:
    """Why the file at ``path`` cannot be used for ``key`` (``""``: it can)."""
    if not path.is_file():
        return "missing"
    try:
        meta = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return "damaged: no readable record of it"
    if not isinstance(meta, dict) or meta.get("key") != key:
        return "stale: made for other weights or another converter"
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"damaged: {exc.strerror or exc}"
    if size != meta.get("size") or file_sha256(path) != meta.get("sha256"):
        return "damaged: its size or content differs from its record"
    return ""


def is_current(name: str, key: str, folder: Path | None = None) -> bool:
    """Whether the model ``name`` is converted under ``key`` and whole (nothing is converted)."""
    return not _problem(cached_path(name, key, folder), key)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made when missing) while inside."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def converted(name: str, key: str, make: Callable[[], bytes], folder: Path | None = None) -> Path:
    """The path of the model ``name`` converted under ``key``, calling ``make()`` (the model's
    ``.tflite`` bytes) only when the cached file is missing, stale or damaged. ``StorageError``
    when the folder cannot be written, ``ModelError`` when ``make`` gives nothing."""
    path = cached_path(name, key, folder)
    if not _problem(path, key):
        return path
    with writing(path.parent):
        make_dirs_private(path.parent)
    with writing(path), _locked(path.with_suffix(".lock")):
        problem = _problem(path, key)  # another process may have converted it meanwhile
        if not problem:
            return path
        if problem == "missing":
            log.info("converting %s for LiteRT, once, into %s/ (not converted yet)", name, path.parent)
        else:
            log.warning("converting %s for LiteRT again, into %s/ (%s)", name, path.parent, problem)
        with native_stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):  # the converter's chatter
            data = make()
        if not data:
            raise ModelError(f"converting {name} for LiteRT gave an empty model")
        write_private(path, data)
        record = {"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        write_private(_sidecar(path), json.dumps(record).encode())
    return path
