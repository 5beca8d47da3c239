"""Counter-examples (``face-enroll correct --not``): listing them and taking them back.

A counter-example is a copy of a kept face's picture in ``<data>/<name>/not/``, named by the
face's id (``<face id>.jpg``; corrections made before that are numbered, ``0001.jpg``). It
makes the next training give ``<name>`` a threshold the face does not reach; deleting it
and training again undoes that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from facecore.errors import UsageError
from facecore.facestore import FaceStore
from facecore.images import list_images
from facecore.people import NOT_THEM

from .people import existing_names

__all__ = ["Correction", "list_corrections", "find_corrections"]


@dataclass(frozen=True)
class Correction:
    """One counter-example: ``person`` it is not, its ``path``, the kept ``face`` id it was made
    from (``""`` when its name does not say), and ``when`` it was made (the file's time, UTC)."""

    person: str
    path: Path
    face: str
    when: datetime


def list_corrections(data: str | os.PathLike) -> list[Correction]:
    """Every counter-example under ``data``, by person, then oldest first."""
    out = []
    for name in existing_names(data):
        for path in list_images(Path(data) / name / NOT_THEM):
            face = path.stem if not path.stem.isdigit() else ""
            when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            out.append(Correction(name, path, face, when))
    return sorted(out, key=lambda c: (c.person, c.when))


def find_corrections(data: str | os.PathLike, given: str, store: FaceStore | None,
                     root: str | os.PathLike | None = None) -> list[Correction]:
    """The counter-examples ``given`` names: a counter-example's own file, or a kept face (its
    picture, a CSV row's snapshot cell, or its id) and then every counter-example made from it
    (named by its id, or, for older ones, holding the same picture); a cell is read from the workspace
    ``root``. ``UsageError`` when none."""
    everything = list_corrections(data)
    path = Path(given)
    mine = [c for c in everything if path.is_file() and c.path.resolve() == path.resolve()]
    if not mine and store is not None:
        try:
            face = store.find(given, root)
        except UsageError:
            face = None
        if face is not None:
            picture = store.image_path(face.id).read_bytes()
            mine = [c for c in everything if c.face == face.id or (not c.face and c.path.read_bytes() == picture)]
    if not mine:
        raise UsageError(f"{given} is not a counter-example of anyone (see: face-enroll list --corrections)")
    return mine
