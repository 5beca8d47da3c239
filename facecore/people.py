"""Enrolled people on disk: ``<data>/<name>/*.jpg``, one folder per person, and in
``<data>/<name>/not/`` the faces corrected as *not* that person (counter-examples)."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from .errors import DataError, UsageError
from .faces import PENDING, UNKNOWN
from .files import writing
from .images import list_images

__all__ = ["validate_name", "scan_people", "scan_counter_examples", "make_private_dir", "RESERVED", "NOT_THEM"]


RESERVED = (UNKNOWN, PENDING, "...")  # what face-live shows for strangers and undecided faces
NOT_THEM = "not"  # <data>/<name>/not/: faces that are not <name> (face-enroll correct --not)


def _fold(name: str) -> str:
    """``name`` compared without case and normal form (canonical caseless matching)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _check_safe(name: str) -> None:
    """Raise ``UsageError`` unless ``name`` is safe as a folder name and not reserved."""
    if not name or not name.strip():
        raise UsageError("a person's name must not be empty")
    if name != name.strip():
        raise UsageError(f"name {name!r} has leading or trailing spaces")
    if "/" in name or "\\" in name or os.sep in name:
        raise UsageError(f"name {name!r} must not contain path separators")
    if _fold(name) in map(_fold, RESERVED):
        raise UsageError(f"name {name!r} is reserved: face-live shows {UNKNOWN!r} for strangers "
                         f"and {PENDING!r} for faces not yet named")
    if name in (".", "..") or name.startswith("."):
        raise UsageError(f"name {name!r} must not start with a dot")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise UsageError(f"name {name!r} contains control or invisible characters")
    if len(name.encode("utf-8")) > 200:
        raise UsageError("a person's name must be at most 200 bytes long")


def validate_name(name: str, existing: list[str] | tuple = ()) -> str:
    """The folder name for the person called ``name``; ``UsageError`` when it cannot be one.

    The name is taken in Unicode NFC, so that "é" typed as one character or as "e" and an
    accent is the same person; when one of the ``existing`` folder names has the same NFC
    form, that folder's name is returned. Refused: empty or blank names, leading/trailing
    spaces, path separators, ``.`` and ``..``, a leading dot, control characters, the
    names face-live shows for faces it does not name (:data:`RESERVED`, in any case), and
    a name that differs from an existing person only by case. Unicode letters and inner
    spaces are fine.
    """
    name = unicodedata.normalize("NFC", name)
    _check_safe(name)
    for other in existing:
        if unicodedata.normalize("NFC", other) == name:
            return other
    for other in existing:
        if _fold(other) == _fold(name):
            raise UsageError(f"name {name!r} differs from the enrolled {other!r} only by case")
    return name


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) readable by the owner only; biometric data lives there."""
    path = Path(path)
    with writing(path):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    return path


def scan_people(root: str | os.PathLike) -> dict[str, list[Path]]:
    """``{name: [image paths]}`` for each person folder under ``root``, sorted by name.

    Hidden folders and folders that are links leading out of ``root`` are skipped.
    Raises ``DataError`` when ``root`` is missing or holds no person folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder not found: {root} (enroll someone with: face-enroll capture NAME)")
    resolved = root.resolve()
    people = {}
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if folder.is_symlink() and not folder.resolve().is_relative_to(resolved):
            continue
        people[folder.name] = list_images(folder)
    if not people:
        raise DataError(f"no person folders in {root}: expected {root}/<name>/*.jpg")
    return people


def scan_counter_examples(root: str | os.PathLike, names: list[str]) -> dict[str, list[Path]]:
    """``{name: [image paths]}`` of the counter-examples in ``root/<name>/not/`` of each of ``names``
    (people without any are left out)."""
    found = {name: list_images(Path(root) / name / NOT_THEM) for name in names}
    return {name: paths for name, paths in found.items() if paths}
