"""How long what face-live records is kept, and forgetting a person in it.

Two places hold what face-live saw: the CSV log (who, when, where) and the face store
(:mod:`facecore.facestore`: crops and feature vectors). :func:`prune` applies
``[faces]``: rows and faces older than ``retention_days`` are deleted, and the oldest faces
beyond ``max_faces``; a row whose ``snapshot`` pointed at a deleted face keeps the row, its
cell emptied. :func:`forget` deletes a person's rows and faces. Both rewrite the CSV log
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
from .facestore import FaceStore
from .logcells import snapshot_path

__all__ = ["Pruned", "prune", "forget", "drop_faces"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    """``faces`` deleted from the store, ``rows`` deleted from the CSV log."""

    faces: int = 0
    rows: int = 0


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
    return Pruned(len(gone), rows)


def _rewrite(log_path, name: str | None, gone: set[str], store: FaceStore | None, root=None) -> int:
    """Drop the rows naming ``name`` (none when ``None``) and empty the cells pointing at faces in ``gone``."""
    def edit(row: dict) -> dict | None:
        if name is not None and row["name"] in (name, neutralize(name)):  # as the log wrote it
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


def forget(name: str, store: FaceStore | None, log_path: str | os.PathLike | None) -> Pruned:
    """Delete every face kept under ``name`` and every CSV row naming them (the snapshot cells of
    other rows that pointed at their faces are emptied)."""
    gone = {face.id for face in store.faces() if face.name == name} if store is not None else set()
    if store is not None:
        store.remove(gone)
    return Pruned(len(gone), _rewrite(log_path, name, gone, store))
