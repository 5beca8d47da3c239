"""How long what face-live records is kept, and forgetting a person in it.

Two places hold what face-live saw: the CSV log (who, when, where) and the face store
(:mod:`facecore.facestore`: crops and feature vectors). :func:`prune` applies
``[faces]``: rows and faces older than ``retention_days`` are deleted, and the oldest faces
beyond ``max_faces``; a row whose ``snapshot`` pointed at a deleted face keeps the row, its
cell emptied. :func:`forget` deletes a person's rows (in one log or several) and faces,
under any spelling of their name, and the damaged face records that mention them or are
not JSON at all. Both rewrite the CSV log
atomically, safe against a face-live run appending to it (:func:`facecore.csvlog.rewrite_log`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .config import FacesConfig
from .csvlog import neutralize, rewrite_log
from .errors import FacecamError
from .facestore import FaceStore
from .logcells import snapshot_path
from .people import person_key
from .traces import is_json, mentions

__all__ = ["Pruned", "prune", "forget", "drop_faces", "Forgotten"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    """``faces`` deleted from the store, ``rows`` deleted from the CSV log; ``gone``: the ids of
    those faces."""

    faces: int = 0
    rows: int = 0
    gone: tuple[str, ...] = ()


def _in_store(cell: str, store: FaceStore | None, root=None) -> Path | None:
    """The picture a ``snapshot`` cell points at (relative cells from the workspace ``root``, default
    the current folder), when it is one of ``store``'s; else ``None``."""
    if not cell or store is None:
        return None
    path = snapshot_path(cell, root)
    return path if path.resolve().parent == store.folder.resolve() else None


def _row_time(row: dict) -> datetime | None:
    try:
        when = datetime.fromisoformat(row.get("time", ""))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.astimezone()


def prune(store: FaceStore | None, log_path: str | os.PathLike | None, config: FacesConfig,
          now: datetime | None = None, root: str | os.PathLike | None = None) -> Pruned:
    """Apply the retention rules of ``config`` to ``store`` and the CSV log at ``log_path`` (either
    may be ``None``). A row without a readable time is kept. ``root``: the workspace the log's
    relative ``snapshot`` cells start from (default: the current folder)."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=config.retention_days)
    gone = store.prune(config.retention_days, config.max_faces, now) if store is not None else []

    def edit(row: dict) -> dict | None:
        when = _row_time(row)
        if when is not None and when < cutoff:
            return None
        picture = _in_store(row["snapshot"], store, root)
        if picture is not None and not picture.exists():
            return {**row, "snapshot": ""}
        return row

    rows = rewrite_log(log_path, edit)[1] if log_path else 0
    if gone or rows:
        log.info("pruned %d faces and %d CSV rows older than %g days (or beyond %d faces)",
                 len(gone), rows, config.retention_days, config.max_faces)
    return Pruned(len(gone), rows, tuple(gone))


def _rewrite(log_path, name: str | None, gone: set[str], store: FaceStore | None, root=None) -> int:
    """Drop the rows naming ``name`` (none when ``None``; any spelling of it) and empty the cells
    pointing at faces in ``gone``."""
    keys = {person_key(name), person_key(neutralize(name))} if name is not None else set()  # as the log wrote it

    def edit(row: dict) -> dict | None:
        if person_key(row["name"]) in keys:
            return None
        picture = _in_store(row["snapshot"], store, root)
        if picture is not None and picture.stem in gone:
            return {**row, "snapshot": ""}
        return row

    return rewrite_log(log_path, edit)[1] if log_path else 0


def drop_faces(store: FaceStore, log_path: str | os.PathLike | None, face_ids,
               root: str | os.PathLike | None = None) -> int:
    """Delete these faces; the CSV rows that pointed at them stay, their ``snapshot`` emptied
    (``root``: as for :func:`prune`)."""
    gone = set(face_ids)
    store.remove(gone)
    _rewrite(log_path, None, gone, store, root)
    return len(gone)


@dataclass(frozen=True)
class Forgotten:
    """What :func:`forget` deleted: ``faces`` kept under the name, ``damaged`` records that could
    not be read (deleted as they mention the name, or are not JSON at all), CSV ``rows``;
    ``failed``: ``(log path, why)`` for each log that could not be cleaned."""

    faces: int = 0
    damaged: int = 0
    rows: int = 0
    failed: tuple = ()


def _theirs(store: FaceStore, name: str) -> tuple[set[str], set[str]]:
    """The ids of the faces kept under ``name`` (any spelling), and of the records that cannot be
    read and are judged by their bytes: gone when they mention ``name`` or are not JSON at all."""
    named, damaged = set(), set()
    for face_id, data in store.records():
        try:
            face = store.parse(face_id, data) if data is not None else None
        except ValueError:
            face = None
        if face is not None:
            if person_key(face.name) == person_key(name):
                named.add(face_id)
        elif data is None or not is_json(data) or mentions(data, name):
            damaged.add(face_id)
    return named, damaged


def forget(name: str, store: FaceStore | None, logs, root: str | os.PathLike | None = None) -> Forgotten:
    """Delete every face kept under ``name``, every damaged record that may be theirs (see
    :func:`_theirs`), and every row naming them in ``logs`` (one CSV log path or several; the
    snapshot cells of other rows that pointed at deleted faces are emptied). A log that cannot be
    rewritten is named in ``failed``; the others are still cleaned."""
    named, damaged = _theirs(store, name) if store is not None else (set(), set())
    if store is not None:
        store.remove(named | damaged)
    rows, failed = 0, []
    for path in [logs] if isinstance(logs, (str, os.PathLike)) else list(logs or ()):
        try:
            rows += _rewrite(path, name, named | damaged, store, root)
        except FacecamError as exc:
            failed.append((str(path), str(exc)))
    return Forgotten(len(named), len(damaged), rows, tuple(failed))
