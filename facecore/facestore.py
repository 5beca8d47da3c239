"""The face store: the faces face-live keeps of the tracks it logs (``data/faces/`` by default).

Each face is two owner-only files named by its id (``<UTC time>-<random hex>``, never a
person's name): ``<id>.jpg``, the face with context around it (the square around the box,
its side ``capture.image_margin`` larger, clamped to the frame, never enlarged), which
``face-enroll`` can import like a photo; and ``<id>.json``, its record (:class:`StoredFace`):
when and where it was seen, the name face-live gave it, the quality measures, and the
feature vector of the backbone that saw it. No pickle: JSON and JPEG only.

Each file is written whole (a temporary sibling renamed into place), the JPEG first, so a
record always comes after its picture. A record that cannot be read or checked (cut
short by a crash, edited by hand) is skipped with a warning, never a crash; so is one
whose picture is missing. Forgetting a person reads every record as bytes
(:meth:`FaceStore.records`), so that a damaged one that may be theirs is deleted too
(:func:`facecore.retention.forget`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from .errors import UsageError
from .files import write_private
from .logcells import snapshot_path
from .people import make_private_dir

__all__ = ["StoredFace", "FaceStore", "face_crop", "box_in_crop", "new_face_id", "backbone_tag"]

log = logging.getLogger(__name__)
_ORPHAN_S = 3600.0  # a picture without a record (or a temporary file) this old was left by a killed run


def backbone_tag(name: str, weights_id: str) -> str:
    """What a record says about the features' origin: feature vectors compare only within one tag."""
    return f"{name}:{weights_id}"


def new_face_id(when: datetime) -> str:
    """A new face id: the UTC time to the millisecond (ids sort by age) and 8 random hex digits."""
    utc = when.astimezone(timezone.utc)
    return f"{utc:%Y%m%dT%H%M%S}{utc.microsecond // 1000:03d}-{uuid.uuid4().hex[:8]}"


def _square(box, margin: float, w: float = math.inf, h: float = math.inf) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the square around ``box`` that :func:`face_crop` cuts out of
    a ``w`` x ``h`` frame (unbounded on the right and bottom when the frame size is not known)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = max(x2 - x1, y2 - y1) * (1.0 + margin) / 2.0
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    left, top = int(max(0, math.floor(cx - half))), int(max(0, math.floor(cy - half)))
    return left, top, int(min(w, math.ceil(cx + half))), int(min(h, math.ceil(cy + half)))


def face_crop(image: np.ndarray, box: np.ndarray, margin: float, max_px: int) -> np.ndarray:
    """The square around ``box`` of RGB ``image``, its side the box's longer side times ``1 + margin``,
    clamped to the frame (no invented borders), shrunk so that no side exceeds ``max_px``."""
    h, w = image.shape[:2]
    left, top, right, bottom = _square(box, margin, w, h)
    if right <= left or bottom <= top:
        return np.zeros((1, 1, 3), np.uint8)
    crop = image[top:bottom, left:right]
    scale = max_px / max(crop.shape[:2])
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return crop.copy()


def box_in_crop(box, crop_shape: tuple, margin: float, max_px: int) -> np.ndarray:
    """Where ``box`` (x1, y1, x2, y2 in the frame) lies in the picture :func:`face_crop` made of it
    with ``margin`` and ``max_px``, given that picture's shape ``(h, w, ...)``: ``(4,)`` float
    pixels of the picture. A picture under ``max_px`` was not shrunk; one that was may also have
    had its right or bottom edge clamped to a frame whose size is not kept, so the scale comes
    from the side that was not (the larger ratio; approximate only when both were)."""
    left, top, right, bottom = _square(box, margin)
    scale = 1.0
    if max(crop_shape[:2]) >= max_px:
        scale = min(1.0, max(crop_shape[1] / max(right - left, 1), crop_shape[0] / max(bottom - top, 1)))
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([x1 - left, y1 - top, x2 - left, y2 - top], np.float32) * scale


@dataclass(frozen=True)
class StoredFace:
    """One kept face. ``time``: ISO 8601 with offset; ``name``: face-live's name for it (``unknown``
    for a stranger; changed when a review or a correction names it); ``box``: x1, y1, x2, y2 in
    the frame; ``quality``: :class:`facecore.quality.FaceQuality` as a dict; ``features``: the
    backbone's unit feature vector ``(d,)`` float32, ``None`` when the face was logged between
    two model calls; ``backbone``: the identity of the weights that made it; ``row``: the face
    is the crop of a CSV row."""

    id: str
    time: str
    source: str
    track: int
    frame: int
    name: str
    confidence: float = 0.0
    box: tuple = (0.0, 0.0, 0.0, 0.0)
    quality: dict = field(default_factory=dict)
    features: np.ndarray | None = None
    backbone: str = ""
    row: bool = False

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.time)

    @property
    def score(self) -> float:
        return float(self.quality.get("score", 0.0))

    def to_json(self) -> bytes:
        record = asdict(self)
        record["box"] = [round(float(v), 2) for v in self.box]
        record["confidence"] = round(float(self.confidence), 4)
        record["features"] = None if self.features is None else [round(float(v), 6) for v in self.features]
        return json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> "StoredFace":
        """Parse and check a record; ``ValueError`` saying what is wrong."""
        record = json.loads(data.decode("utf-8"))
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        record.setdefault("track", -1)  # not known (an older record): no track or frame to go by
        record.setdefault("frame", -1)
        kinds = {"id": str, "time": str, "source": str, "track": int, "frame": int, "name": str}
        for key, kind in kinds.items():
            if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
                raise ValueError(f"{key} must be {kind.__name__}, got {record.get(key)!r}")
        datetime.fromisoformat(record["time"])
        features = record.get("features")
        if features is not None:
            features = np.asarray(features, np.float32)
            if features.ndim != 1 or not len(features) or not np.all(np.isfinite(features)):
                raise ValueError("features must be a non-empty list of finite numbers")
        box = tuple(float(v) for v in record.get("box", (0, 0, 0, 0)))
        quality = record.get("quality", {})
        if len(box) != 4 or not isinstance(quality, dict):
            raise ValueError("box must hold 4 numbers and quality must be an object")
        return cls(record["id"], record["time"], record["source"], record["track"], record["frame"],
                   record["name"], float(record.get("confidence", 0.0)), box, quality, features,
                   str(record.get("backbone", "")), bool(record.get("row", False)))


class FaceStore:
    """The faces kept in ``folder`` (created owner-only when the first face is added)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def image_path(self, face_id: str) -> Path:
        return self.folder / f"{face_id}.jpg"

    def _record_path(self, face_id: str) -> Path:
        return self.folder / f"{face_id}.json"

    def add(self, face: StoredFace, jpeg: bytes) -> Path:
        """Keep ``face`` with its picture ``jpeg``; returns the picture's path (``StorageError``)."""
        make_private_dir(self.folder)
        path = write_private(self.image_path(face.id), jpeg, sync=False)
        write_private(self._record_path(face.id), face.to_json(), sync=False)
        return path

    def update(self, face: StoredFace, **changes) -> StoredFace:
        """Rewrite ``face``'s record with ``changes`` (such as another ``name``)."""
        changed = replace(face, **changes)
        write_private(self._record_path(face.id), changed.to_json(), sync=False)
        return changed

    def remove(self, face_ids: Iterable[str]) -> int:
        """Delete these faces (record first: a picture alone is never read); returns how many were there."""
        removed = 0
        for face_id in face_ids:
            there = self._record_path(face_id).exists()
            self._record_path(face_id).unlink(missing_ok=True)
            self.image_path(face_id).unlink(missing_ok=True)
            removed += there
        return removed

    def ids(self) -> list[str]:
        """The ids of the faces with a record, oldest first (records are not read)."""
        return sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []

    def faces(self) -> list[StoredFace]:
        """Every readable face, oldest first; the others are skipped, each with a warning."""
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.glob("*.json")):
            face = self._read(path)
            if face is not None:
                out.append(face)
        return out

    def records(self) -> Iterator[tuple[str, bytes | None]]:
        """``(id, bytes)`` of every record file, oldest first, whether it can be parsed or not, its
        picture there or not (``None`` for a file that cannot be read)."""
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                yield path.stem, path.read_bytes()
            except OSError:
                yield path.stem, None

    @staticmethod
    def parse(face_id: str, data: bytes) -> StoredFace:
        """The record ``data`` of the face ``face_id``, checked; ``ValueError`` saying what is wrong."""
        try:
            face = StoredFace.from_json(data)
        except (TypeError, RecursionError) as exc:  # a field of another type ("box": null)
            raise ValueError(str(exc)) from None
        if face.id != face_id:
            raise ValueError(f"its id is {face.id!r}")
        return face

    def _read(self, path: Path) -> StoredFace | None:
        try:
            face = self.parse(path.stem, path.read_bytes())
        except (OSError, ValueError) as exc:
            log.warning("skipping the stored face %s: cannot read its record (%s)", path, exc)
            return None
        if not self.image_path(face.id).is_file():
            log.warning("skipping the stored face %s: its picture %s is missing", path, self.image_path(face.id))
            return None
        return face

    def find(self, given: str | os.PathLike, root: str | os.PathLike | None = None) -> StoredFace:
        """The face named by its picture or record (a path in the store, such as a CSV row's
        ``snapshot`` cell, relative to the workspace ``root``, default the current folder) or by its
        id; ``UsageError`` when the store holds no such face."""
        path = Path(given)
        named_by_path = path.suffix in (".jpg", ".json") or len(path.parts) > 1
        places = {path.resolve().parent, snapshot_path(path, root).resolve().parent}
        inside = not named_by_path or self.folder.resolve() in places
        record = self._record_path(path.stem if named_by_path else str(given))
        face = self._read(record) if inside and record.is_file() else None
        if face is None:
            raise UsageError(f"{given} is not a face kept in {self.folder} (give a stored crop, a CSV row's "
                             f"snapshot path, or a face id)")
        return face

    def prune(self, retention_days: float, max_faces: int, now: datetime | None = None) -> list[str]:
        """Delete the faces older than ``retention_days``, then the oldest beyond ``max_faces``, and what
        killed runs left or what cannot be read (temporary files, pictures without a record,
        unreadable records; over an hour old, so that no write in progress is taken); returns
        the ids deleted."""
        now = now or datetime.now(timezone.utc)
        faces = self.faces()
        cutoff = now - timedelta(days=retention_days)
        old = [f.id for f in faces if f.when < cutoff]
        young = [f.id for f in faces if f.when >= cutoff]
        gone = old + young[:max(0, len(young) - max_faces)]
        self.remove(gone)
        self._clean_leftovers({f.id for f in faces})
        return gone

    def _clean_leftovers(self, known: set[str]) -> None:
        if not self.folder.is_dir():
            return
        limit = time.time() - _ORPHAN_S
        for path in self.folder.iterdir():
            stray = ".tmp" in path.name or (path.suffix in (".jpg", ".json") and path.stem not in known)
            try:
                if stray and path.is_file() and path.stat().st_mtime < limit:
                    path.unlink()
            except OSError:
                continue
