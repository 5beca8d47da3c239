"""Which faces of the logged tracks face-live keeps: each row's face, and the best few of each
track, ranked by the enrollment gate's measures (:func:`facecore.quality.measure_face`).

Pure bookkeeping, like :class:`~realtime.events.records.EventMaker` that uses it: it says which faces
to keep (their records and pictures) and which kept faces are no longer among their track's
best; the one writer (:class:`~realtime.events.records.EventLog`) stores and deletes them.

For each track (per source):

- the face of every CSV row of the track is kept (the row's ``snapshot`` points at it) and is
  never replaced by a better one: the log refers to it;
- every face the model looked at (a step with a model call gives its feature vector) is a
  candidate; the track keeps up to ``faces.per_track`` faces spread over its whole time, not
  only its best (:func:`spread`: the best face of each stretch of the track, the stretches
  doubling in length as the track goes on), never giving up a row's face, so that even a
  short track leaves different views of the face to name it by;
- before the track's first row (its name still being voted on), the best candidates wait in
  memory, and are kept once the track is logged; a track that ends unlogged leaves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from facecore.bundle import Bundle
from facecore.config import CaptureConfig, Config, FacesConfig
from facecore.facestore import StoredFace, backbone_tag, face_crop, new_face_id
from facecore.images import encode_jpeg
from facecore.quality import measure_face

from ..engine.pipeline import StepResult

__all__ = ["KeepRules", "Kept", "FacePicker", "keep_rules", "spread"]


@dataclass(frozen=True)
class KeepRules:
    """How faces are kept: ``faces`` (how many), ``capture`` (the gate's measures, the crop's margin
    and largest side), ``backbone`` (names the weights that made the feature vectors), ``root``
    (the workspace that the CSV's ``snapshot`` cells are relative to; ``""``: the current folder)."""

    faces: FacesConfig = field(default_factory=FacesConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    backbone: str = ""
    root: str = ""


@dataclass(frozen=True)
class Kept:
    """A face to keep: its record and its picture (``crop``: RGB ``uint8``, its own copy of the
    frame's pixels). The picture is encoded (:attr:`jpeg`) by whoever stores it, the writer: JPEG
    encoding stays off the recognition thread."""

    face: StoredFace
    crop: np.ndarray

    @property
    def jpeg(self) -> bytes:
        return encode_jpeg(self.crop)


@dataclass(frozen=True)
class _Entry:
    """A face the track keeps: its quality ``score``, ``id``, whether it is a CSV ``row``'s face
    (never given up) and the ``frame`` it was seen on."""

    score: float
    id: str
    row: bool
    frame: int


def spread(entries: list[_Entry], limit: int, start: int, width: int) -> tuple[list[int], int]:
    """Which of ``entries`` to keep, spread over time: ``(indices, width)``.

    Fixed entries are all kept and leave ``limit`` minus their number for the others. Their frames
    from ``start`` fall in slots ``width`` frames wide; while more slots are taken than there is
    room for, slots double in width; each slot keeps its best (highest score, then earliest).
    The width only grows, so a long track ends with faces from all of it.
    """
    fixed = [i for i, e in enumerate(entries) if e.row]
    free, room = [i for i, e in enumerate(entries) if not e.row], limit - len(fixed)
    if room <= 0 or not free:
        return fixed, width
    while True:
        slots: dict[int, list[int]] = {}
        for i in free:
            slots.setdefault((entries[i].frame - start) // width, []).append(i)
        if len(slots) <= room:
            break
        width *= 2
    best = [max(members, key=lambda i: (entries[i].score, -entries[i].frame)) for members in slots.values()]
    return sorted(fixed + best), width


@dataclass
class _Track:
    logged: bool = False
    kept: list = field(default_factory=list)  # _Entry of each face kept
    waiting: list = field(default_factory=list)  # Kept, before the first row
    start: int | None = None  # the frame of the track's first face
    width: int = 1  # frames per slot of :func:`spread`


class FacePicker:
    """``pick(snapshot, image, rows, stamp)``: the faces to keep for one step of one source."""

    def __init__(self, rules: KeepRules) -> None:
        self.rules = rules
        self._tracks: dict[tuple[str, int], _Track] = {}

    def pick(self, snapshot: StepResult, image: np.ndarray, rows: list[int],
             stamp: datetime) -> tuple[dict[int, Kept], list[Kept], list[str]]:
        """For the faces of ``snapshot`` (made from RGB ``image``) whose indices ``rows`` become CSV rows
        now: ``(row faces by index, other faces to keep, ids of kept faces to delete)``."""
        faces = snapshot.faces
        features = faces.data.get("features")
        looked = set() if features is None else set(np.flatnonzero(~np.isnan(features[:, 0])).tolist())
        self._forget_ended(snapshot.source, faces.track_ids)
        row_faces, keep, drop = {}, [], []
        for i in sorted(looked | set(rows)):
            track = self._tracks.setdefault((snapshot.source, int(faces.track_ids[i])), _Track())
            kept = self._make(snapshot, image, i, stamp, i in rows)
            track.start = kept.face.frame if track.start is None else track.start
            if i in rows:
                row_faces[i] = kept
                track.kept.append(_Entry(kept.face.score, kept.face.id, True, kept.face.frame))
                if not track.logged:  # the faces seen while its name was voted on get the name decided
                    track.logged = True
                    for waiting in track.waiting:
                        self._offer(track, Kept(replace(waiting.face, name=kept.face.name), waiting.crop), keep, drop)
                    track.waiting = []
            elif track.logged:
                self._offer(track, kept, keep, drop)
            else:
                waiting = [*track.waiting, kept]
                entries = [_Entry(k.face.score, k.face.id, False, k.face.frame) for k in waiting]
                chosen, track.width = spread(entries, self.rules.faces.per_track, track.start, track.width)
                track.waiting = [waiting[c] for c in chosen]
        return row_faces, keep, drop

    def _offer(self, track: _Track, kept: Kept, keep: list, drop: list) -> None:
        """Keep ``kept`` unless :func:`spread` gives it up; the kept faces it gives up in its place are
        dropped (a row's face never is)."""
        options = [*track.kept, _Entry(kept.face.score, kept.face.id, False, kept.face.frame)]
        chosen, track.width = spread(options, self.rules.faces.per_track, track.start, track.width)
        for gone in (options[i] for i in sorted(set(range(len(options))) - set(chosen))):
            if gone.id == kept.face.id:
                continue
            if any(k.face.id == gone.id for k in keep):  # chosen in this very step: not stored yet
                keep[:] = [k for k in keep if k.face.id != gone.id]
            else:
                drop.append(gone.id)
        track.kept = [options[i] for i in chosen]
        if len(chosen) and options[chosen[-1]].id == kept.face.id:
            keep.append(kept)

    def _forget_ended(self, source: str, live: np.ndarray) -> None:
        """Tracks of ``source`` that are no longer live will not come back (ids are never reused)."""
        alive = {int(t) for t in live}
        for key in [k for k in self._tracks if k[0] == source and k[1] not in alive]:
            del self._tracks[key]

    def _make(self, snapshot: StepResult, image: np.ndarray, i: int, stamp: datetime, row: bool) -> Kept:
        faces, capture = snapshot.faces, self.rules.capture
        features = faces.data.get("features")
        vector = None if features is None or np.isnan(features[i, 0]) else features[i].astype(np.float32)
        quality = measure_face(image, faces[[i]], capture)
        face = StoredFace(
            id=new_face_id(stamp), time=stamp.isoformat(timespec="milliseconds"), source=snapshot.source,
            track=int(faces.track_ids[i]), frame=snapshot.frame_index, name=str(faces.names[i]),
            confidence=float(faces.confidences[i]), box=tuple(float(v) for v in faces.boxes[i]),
            quality=quality.as_dict(), features=vector, backbone=self.rules.backbone if vector is not None else "",
            row=row)
        return Kept(face, face_crop(image, faces.boxes[i], capture.image_margin, capture.image_px))


def keep_rules(config: Config, bundle: Bundle | None, root: Path | None = None) -> KeepRules:
    """How faces are kept; their feature vectors come from the backbone the bundle was trained with,
    and the CSV points at them relative to the workspace ``root``."""
    trained = bundle.meta["backbone"] if bundle is not None else None
    tag = backbone_tag(trained["name"], trained["weights_id"]) if trained else ""
    return KeepRules(config.faces, config.capture, tag, str(root or ""))
