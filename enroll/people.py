"""Enrolled people on disk: saving face images, import from photos, list (removing them:
:mod:`enroll.removal`).

``<data>/<name>/0001.jpg, 0002.jpg, ...``: square face crops with margin (what
training reads, finding the face again), numbered so that a later session adds
to, never overwrites, an earlier one; ``<data>/<name>/frames/0001.jpg`` holds the
full frame when asked for. Everything is owner-only (folders 0700, files 0600):
enrolled faces are biometric data.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from facecore.bundle import bundle_exists, load_bundle
from facecore.config import Config, CaptureConfig
from facecore.crops import extract_crops
from facecore.errors import BundleError, ImageError, UsageError
from facecore.faces import Faces
from facecore.features import choose_subject
from facecore.files import write_private
from facecore.images import encode_jpeg, list_images, read_image
from facecore.people import NOT_THEM, group_spellings, make_private_dir, person_key, validate_name

from .quality import Gate, Verdict, face_patch, thumbnail

__all__ = [
    "existing_names", "person_folder", "discard_if_empty", "next_number", "face_jpeg", "finish_candidate",
    "save_face", "seed_gate", "face_at", "NOT_FOUND_AGAIN", "ImportResult", "import_photos", "photo_paths",
    "PersonInfo", "list_people", "FRAMES",
]

log = logging.getLogger(__name__)
FRAMES = "frames"
NOT_FOUND_AGAIN = ("once cut out as it would be saved, the face is not the one training would pick "
                   "(it is unclear, or another face is nearer the middle)")
_NUMBERED = re.compile(r"^(\d+)$")
_MIN_FACE_PX_FLOOR = int(next(f for f in fields(CaptureConfig) if f.name == "min_face_px").metadata["lo"])


def existing_names(data: str | os.PathLike) -> list[str]:
    """Names of the person folders under ``data`` (none when it does not exist yet)."""
    data = Path(data)
    if not data.is_dir():
        return []
    return sorted(p.name for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))


def person_folder(data: str | os.PathLike, name: str, create: bool = False) -> Path:
    """The folder of the person ``name`` under ``data`` after checking the name (``UsageError``):
    ``data/<name in NFC>``, or the existing folder of the same name in another Unicode normal
    form; created owner-only when asked. Its ``.name`` is the name to show and save under."""
    folder = Path(data) / validate_name(name, existing_names(data))
    if create:
        make_private_dir(data)
        make_private_dir(folder)
    return folder


def discard_if_empty(folder: Path) -> None:
    """Remove a person folder a session created but saved nothing in (train would refuse it)."""
    try:
        folder.rmdir()
    except OSError:
        pass


def next_number(folder: str | os.PathLike) -> int:
    """1 + the highest number among ``NNNN.*`` images in ``folder`` and its ``frames/``."""
    folder = Path(folder)
    numbers = [0]
    for where in (folder, folder / FRAMES):
        if where.is_dir():
            numbers += [int(m.group(1)) for p in where.iterdir() if (m := _NUMBERED.match(p.stem))]
    return max(numbers) + 1


def face_jpeg(image: np.ndarray, faces: Faces, config: CaptureConfig) -> bytes:
    """The first face of ``faces`` in RGB ``image`` as the JPEG that is saved: a square
    ``image_px`` crop with ``image_margin`` around the box, not rotated."""
    return encode_jpeg(extract_crops(image, faces[[0]], config.image_px, config.image_margin, align=False)[0])


def finish_candidate(gate: Gate, verdict: Verdict, image: np.ndarray, detector, config: CaptureConfig):
    """``(verdict, jpeg)`` for a candidate of ``gate.check``: crop it as it will be saved, make
    sure that in that very JPEG the face training picks (:func:`choose_subject` of what
    ``detector``, the one training uses, finds) is the centred one, and apply the near-duplicate
    rule to it (full resolution, stable)."""
    if not verdict.ok:
        return verdict, b""
    jpeg = face_jpeg(image, verdict.faces, config)
    crop = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    faces = choose_subject(detector.detect(crop), crop.shape)
    centre = (faces.boxes[:1, :2] + faces.boxes[:1, 2:]) / 2.0 / np.array(crop.shape[1::-1])
    if len(faces) != 1 or np.any(np.abs(centre - 0.5) >= 0.15):
        return Verdict(False, NOT_FOUND_AGAIN, verdict.faces, verdict.pose, code="not_found_again"), b""
    return gate.check_new(verdict, thumbnail(face_patch(crop, faces))), jpeg


def save_face(folder: Path, number: int, jpeg: bytes, frame: np.ndarray | None = None) -> Path:
    """Save ``jpeg`` as ``folder/NNNN.jpg``, and the RGB ``frame`` as ``folder/frames/NNNN.jpg`` if given."""
    path = folder / f"{number:04d}.jpg"
    write_private(path, jpeg, overwrite=False)
    if frame is not None:
        write_private(make_private_dir(folder / FRAMES) / path.name, encode_jpeg(frame), overwrite=False)
    return path


@dataclass
class ImportResult:
    """What an import did: ``total`` photos given, the images ``saved``, the photos ``rejected``."""

    total: int = 0
    saved: list = field(default_factory=list)
    rejected: list = field(default_factory=list)  # (path, reason)
    small: list = field(default_factory=list)  # face sides (px) of the photos refused for their size alone

    def smallest_setting(self) -> tuple[int, int]:
        """``(n, k)``: the largest ``capture.min_face_px`` that lets every photo refused for its size
        alone past the size rule (``k`` of them; fewer only below the setting's floor, 12 px)."""
        if not self.small:
            return 0, 0
        n = max(_MIN_FACE_PX_FLOOR, int(min(self.small)))
        return n, sum(size >= n for size in self.small)

    def reasons(self) -> Counter:
        """Rejections counted by what was wrong: each reason up to its first colon (its details
        - measures, limits, settings - differ from photo to photo)."""
        return Counter(reason.partition(":")[0] for _, reason in self.rejected)


def _check_one_person(folder: Path) -> None:
    """``UsageError`` when ``folder`` holds no photo itself but sub-folders of photos, two or more
    (a folder of person folders, as ``train --data`` reads: one person each)."""
    if list_images(folder):
        return
    subs = sorted(d.name for d in folder.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and d.name not in (FRAMES, NOT_THEM)
                  and list_images(d, recursive=True))
    if len(subs) > 1:
        shown = ", ".join(map(repr, subs[:5])) + (f" and {len(subs) - 5} more" if len(subs) > 5 else "")
        raise UsageError(f"{folder} holds {len(subs)} sub-folders of photos ({shown}), as if of several people: "
                         f"import them one by one (face-enroll import NAME {folder / subs[0]}), or, when they are "
                         f"all the same person, give the sub-folders themselves; to train on a folder of person "
                         f"folders as it is, use face-enroll train --data {folder}")


def photo_paths(paths: list) -> list[Path]:
    """Files as given; folders expanded to the images inside them (any depth). ``UsageError``
    for a path that does not exist, and for a folder of several sub-folders of photos (people?)."""
    out = []
    for item in map(Path, paths):
        if item.is_dir():
            _check_one_person(item)
            out += list_images(item, recursive=True)
        elif item.exists():
            out.append(item)
        else:
            raise UsageError(f"no such file or folder: {item}")
    return out


def import_photos(config: Config, name: str, paths: list, data: str | os.PathLike, detector,
                  relax: bool = False, result: ImportResult | None = None, boxes: dict | None = None) -> ImportResult:
    """Enroll ``name`` from photos (files or folders) through the capture gate, which says what
    is wrong with each photo it rejects; ``relax`` drops the pose rule. ``result``, when given,
    is filled as the import goes: after a failed write or an interrupt it holds what was done.
    ``boxes``: ``{path: (x1, y1, x2, y2)}``, where in a photo its subject is known to be (a kept
    face): that face is judged, whatever other faces the photo holds.
    """
    folder = person_folder(data, name)  # a bad name fails first, with nothing written
    photos = photo_paths(paths)
    result = result if result is not None else ImportResult()
    result.total = len(photos)
    existed = folder.is_dir()
    person_folder(data, name, create=True)
    try:
        gate = Gate(config.capture, count=max(len(photos), 1), use_pose=False if relax else None, photos=True)
        seed_gate(gate, folder, detector)
        number = next_number(folder)
        for path in photos:
            verdict, jpeg, small = _judge_photo(gate, path, config, detector, (boxes or {}).get(path))
            if not verdict.ok:
                result.rejected.append((path, verdict.reason))
                result.small += [float(verdict.faces.sizes[0])] if small else []
                continue
            result.saved.append(save_face(folder, number, jpeg))
            gate.accept(verdict, None)
            number += 1
    finally:
        if not result.saved and not existed:
            discard_if_empty(folder)
    return result


def _judge_photo(gate: Gate, path: Path, config: Config, detector, box=None) -> tuple[Verdict, bytes, bool]:
    """``(verdict, jpeg, small)`` for one photo, as :func:`finish_candidate`; an unreadable file is a
    rejection. ``box``: judge only the face found there (see :func:`face_at`). ``small``: the photo
    is refused for its face's size alone (it passes the other rules of ``gate.check`` at that size)."""
    try:
        image = read_image(path, config.train.max_image_side)
    except ImageError as exc:
        return Verdict(False, f"unreadable: {str(exc).removeprefix(f'{path}: ')}", code="unreadable"), b"", False
    if box is not None:  # in the picture's pixels (a kept face's picture is smaller than train.max_image_side)
        faces = _found_at(detector, image, np.asarray(box, np.float64))
    else:
        faces = detector.detect(image)
    verdict = gate.check(image, faces, None)
    if verdict.code == "small":
        smaller = replace(gate.config, min_face_px=max(_MIN_FACE_PX_FLOOR, int(verdict.faces.sizes[0])))
        again = Gate(smaller, count=gate.count, use_pose=gate.use_pose, photos=True).check(image, faces, None)
        return verdict, b"", again.ok
    return (*finish_candidate(gate, verdict, image, detector, config.capture), False)


def face_at(faces: Faces, box: np.ndarray) -> Faces:
    """The face of ``faces`` whose centre is nearest that of ``box`` (x1, y1, x2, y2), if that centre
    lies inside ``box``; else no face."""
    if not len(faces):
        return faces
    centres = (faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2.0
    nearest = int(np.argmin(np.linalg.norm(centres - (box[:2] + box[2:]) / 2.0, axis=1)))
    inside = np.all(centres[nearest] >= box[:2]) and np.all(centres[nearest] <= box[2:])
    return faces[[nearest]] if inside else faces[np.zeros(0, np.int64)]


def _found_at(detector, image: np.ndarray, box: np.ndarray) -> Faces:
    """The face :func:`face_at` ``box`` of RGB ``image``; when none, looked for again with a border of
    half the picture around it (MTCNN misses some faces that fill a kept face's picture, which
    the live detector found in the whole frame), in ``image``'s pixels."""
    faces = face_at(detector.detect(image), box)
    if len(faces):
        return faces
    pad = max(image.shape[:2]) // 2
    found = detector.detect(cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT))
    landmarks = None if found.landmarks is None else found.landmarks - pad
    return face_at(Faces(found.boxes - pad, found.scores, landmarks), box)


def seed_gate(gate: Gate, folder: Path, detector) -> None:
    """Let the near-duplicate rule see the images an earlier session kept."""
    for path in list_images(folder) if folder.is_dir() else []:
        try:
            image = read_image(path)
        except ImageError:
            continue
        gate.seed(image, choose_subject(detector.detect(image), image.shape))


@dataclass
class PersonInfo:
    name: str
    images: int
    enrolled: datetime | None  # when the oldest image was written
    updated: datetime | None  # when the newest was
    in_bundle: str  # "yes", "no", or "outdated" (images changed since the bundle was trained)
    folders: tuple = ()  # their folder names: more than one when their name is spelled two ways


def _bundle_labels(model: Path) -> tuple[set, datetime | None]:
    """Names in the bundle at ``model`` and when it was trained (nothing when there is none)."""
    if not bundle_exists(model):
        return set(), None
    try:
        bundle = load_bundle(model)
    except BundleError as exc:
        log.warning("%s", exc)
        return set(), None
    try:
        created = datetime.fromisoformat(str(bundle.meta.get("created")))
    except ValueError:
        created = None
    return set(bundle.labels), created


def list_people(data: str | os.PathLike, model: str | os.PathLike) -> list[PersonInfo]:
    """One :class:`PersonInfo` per person under ``data`` (empty when nobody is enrolled): the
    folders of one name spelled two ways (:func:`facecore.people.person_key`) are one person."""
    labels, created = _bundle_labels(Path(model))
    labels = {person_key(label) for label in labels}
    people = []
    for name, folders in group_spellings(existing_names(data)).items():
        images = [path for folder in folders for path in list_images(Path(data) / folder)]
        times = sorted(datetime.fromtimestamp(p.stat().st_mtime, timezone.utc) for p in images)
        state = "no"
        if person_key(name) in labels:
            # the bundle's time has whole seconds: an image is newer only when clearly later
            newer = created is not None and times and (times[-1] - created).total_seconds() > 1.0
            state = "outdated" if newer else "yes"
        people.append(PersonInfo(name, len(images), times[0] if times else None, times[-1] if times else None, state,
                                 tuple(folders)))
    return people
