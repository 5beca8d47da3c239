"""Enrolled people on disk: ``<data>/<name>/*.jpg``, one folder per person, and in
``<data>/<name>/not/`` the faces corrected as *not* that person (counter-examples)."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from .errors import DataError, UsageError
from .faces import PENDING, UNKNOWN
from .files import make_dirs_private, writing
from .images import list_images

__all__ = ["validate_name", "scan_people", "scan_counter_examples", "make_private_dir", "RESERVED", "NOT_THEM",
           "person_key", "check_not_reserved", "group_spellings", "spelling", "check_one_spelling"]


RESERVED = (UNKNOWN, PENDING, "...")  # what face-live shows for strangers and undecided faces
NOT_THEM = "not"  # <data>/<name>/not/: faces that are not <name> (face-enroll correct --not)


def person_key(name: str) -> str:
    """What two folder names of one person share: equal in NFC and case-folded ("José" typed on a
    Mac, in NFD, and "JOSÉ" are the same person as "José"; canonical caseless matching)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def spelling(name: str) -> str:
    """``name`` quoted, with its code points spelled out when it is not in NFC (two spellings of one
    name look the same on a terminal)."""
    if unicodedata.is_normalized("NFC", name):
        return repr(name)
    return f"{name!r} (decomposed: {ascii(name)})"


def group_spellings(names) -> dict[str, list[str]]:
    """``{the name to show: [its spellings]}`` for folder ``names``: the spellings of one person
    (:func:`person_key`) together, the NFC one shown (else the first in order)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(person_key(name), []).append(name)
    out = {}
    for spellings in groups.values():
        shown = next((n for n in spellings if unicodedata.is_normalized("NFC", n)), spellings[0])
        out[shown] = spellings
    return out


def check_one_spelling(root: str | os.PathLike, names) -> None:
    """``DataError`` naming the folders under ``root`` that are one person spelled two ways or more."""
    for spellings in group_spellings(names).values():
        if len(spellings) > 1:
            folders = " and ".join(spelling(str(Path(root) / n)) for n in spellings)
            raise DataError(f"{folders} are one person (names equal but for Unicode form or case): move the "
                            f"photos of one into the other and delete the empty folder, then train again")


def check_not_reserved(name: str) -> None:
    """``UsageError`` when ``name`` is, in any case or compatibility form (fullwidth letters...),
    one of the names face-live shows for faces it does not name (:data:`RESERVED`)."""
    folded = unicodedata.normalize("NFKC", person_key(unicodedata.normalize("NFKC", name)))
    if folded in {unicodedata.normalize("NFKC", person_key(r)) for r in RESERVED}:
        raise UsageError(f"name {name!r} is reserved: face-live shows {UNKNOWN!r} for strangers "
                         f"and {PENDING!r} for faces not yet named")


def _check_safe(name: str) -> None:
    """Raise ``UsageError`` unless ``name`` is safe as a folder name and not reserved."""
    if not name or not name.strip():
        raise UsageError("a person's name must not be empty")
    if name != name.strip():
        raise UsageError(f"name {name!r} has leading or trailing spaces")
    if "/" in name or "\\" in name or os.sep in name:
        raise UsageError(f"name {name!r} must not contain path separators")
    check_not_reserved(name)
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
        if person_key(other) == person_key(name):
            raise UsageError(f"name {name!r} differs from the enrolled {other!r} only by case")
    return name


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) readable by the owner only; biometric data lives there."""
    path = Path(path)
    with writing(path):
        make_dirs_private(path)  # the folders above it that it creates too (data/ of data/people)
        os.chmod(path, 0o700)
    return path


def scan_people(root: str | os.PathLike) -> dict[str, list[Path]]:
    """``{name: [image paths]}`` for each person folder under ``root``, sorted by name.

    Hidden folders and folders that are links leading out of ``root`` are skipped.
    Raises ``DataError`` when ``root`` is missing or holds no person folder, or when two folders
    are one person spelled two ways (:func:`person_key`): they must be merged first.
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
    check_one_spelling(root, people)
    return people


def scan_counter_examples(root: str | os.PathLike, names: list[str]) -> dict[str, list[Path]]:
    """``{name: [image paths]}`` of the counter-examples in ``root/<name>/not/`` of each of ``names``
    (people without any are left out)."""
    found = {name: list_images(Path(root) / name / NOT_THEM) for name in names}
    return {name: paths for name, paths in found.items() if paths}
