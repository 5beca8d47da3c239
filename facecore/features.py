"""From image files to backbone features, with a per-image cache on disk.

1. read the file (``read_image``), 2. detect faces and choose the subject,
3. crop (``extract_crops``), 4. one batched backbone call per chunk of crops,
5. store each image's features under its content hash and the settings.

An image that gives no features is skipped with the reason, which is cached too: too small
to hold a face, no face found, or no face found in what looks like a tight face crop (see
:func:`looks_like_face_crop`; ``train.no_face = "whole"`` uses such photos whole).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .backbones import Backbone
from .config import Config
from .crops import extract_crops
from .detector import Detector
from .errors import ImageError
from .faces import Faces
from .files import write_private
from .images import read_image
from .people import make_private_dir, person_key
from .progress import Progress

__all__ = ["FeatureCache", "choose_subject", "ImageFeatures", "features_for_images", "settings_key", "file_hash",
           "looks_like_face_crop", "NO_FACE", "TIGHT_CROP"]

log = logging.getLogger(__name__)
_CHUNK = 16
NO_FACE = "no face found"
TIGHT_CROP = "no face found, but one fills the photo when a margin is added: a tight face crop"


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def settings_key(config: Config, backbone: Backbone) -> str:
    """A short hash of everything that changes an image's features."""
    d = config.detector
    settings = {
        "backbone": [backbone.name, backbone.weights_id, backbone.input_size],
        "crop": asdict(config.crop),
        "detector": [d.max_side, d.refine_side, d.min_face_size, d.threshold_pnet, d.threshold_rnet,
                     d.threshold_onet, d.min_score],
        "no_face": config.train.no_face,
        "max_image_side": config.train.max_image_side,
        # 2: landmarks read in mtcnn's order (crops were misaligned); 3: candidates checked on
        # a finer copy, the search starting below min_face_size
        "version": 3,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class FeatureCache:
    """``<root>/<person>/<settings>-<image hash>.npy``: an image's features (float32), or the
    reason it has none (a unicode scalar, e.g. ``NO_FACE``)."""

    def __init__(self, root: str | os.PathLike, settings: str) -> None:
        self.root, self.settings = Path(root), settings

    def _path(self, person: str, digest: str) -> Path:
        return self.root / person / f"{self.settings}-{digest[:32]}.npy"

    def get(self, person: str, digest: str) -> np.ndarray | str | None:
        """The features, the reason the image has none, or ``None`` when not cached (an
        empty array, the mark of "no face" before reasons were kept, counts as not cached)."""
        path = self._path(person, digest)
        try:
            entry = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None
        if entry.dtype.kind == "U":
            return str(entry)
        return entry if entry.size else None

    def put(self, person: str, digest: str, features: np.ndarray | str) -> None:
        """Keep an image's features, or (a ``str``) the reason it has none."""
        path = self._path(person, digest)
        if not path.parent.is_dir():
            make_private_dir(self.root)
            make_private_dir(path.parent)
        entry = np.array(features) if isinstance(features, str) else np.asarray(features, np.float32)
        buffer = io.BytesIO()
        np.save(buffer, entry, allow_pickle=False)
        write_private(path, buffer.getvalue(), sync=False)  # a lost entry is only computed again

    def remove_person(self, person: str) -> None:
        """Delete the cached features of ``person``: of every folder spelled as their name in another
        Unicode form or case (:func:`facecore.people.person_key`)."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if person_key(folder.name) == person_key(person) and folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)


def choose_subject(faces: Faces, shape: tuple) -> Faces:
    """The photo's subject: of the faces at least half as large as the largest, the
    one nearest the image centre. Returns ``Faces`` of length 0 or 1."""
    if len(faces) <= 1:
        return faces
    areas = faces.areas
    candidates = np.flatnonzero(areas >= 0.5 * areas.max())
    centres = (faces.boxes[candidates, :2] + faces.boxes[candidates, 2:]) / 2.0
    target = np.array([shape[1] / 2.0, shape[0] / 2.0])
    best = candidates[np.argmin(np.linalg.norm(centres - target, axis=1))]
    return faces[[best]]


@dataclass
class ImageFeatures:
    """Features of the images that worked, and the reasons for those that did not."""

    features: list = field(default_factory=list)  # one array per usable image
    paths: list = field(default_factory=list)
    people: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (path, reason)


def looks_like_face_crop(image: np.ndarray, detector: Detector) -> bool:
    """Whether ``image`` (RGB uint8), in which no face was found, is a tight face crop: with a
    grey margin of half its longer side added around it, MTCNN finds a face covering at least
    half of it. (MTCNN misses faces that fill the whole image; one more detection, on a photo
    with no face only.)"""
    h, w = image.shape[:2]
    m = max(h, w) // 2
    framed = cv2.copyMakeBorder(image, m, m, m, m, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    faces = detector.detect(framed)
    return bool(len(faces)) and float(faces.areas.max()) >= 0.5 * h * w


def _subject_crop(path: Path, detector: Detector, config: Config, size: int) -> np.ndarray | str:
    """The subject's face crop of the photo at ``path``, or the reason there is none."""
    image = read_image(path, config.train.max_image_side)
    h, w = image.shape[:2]
    if min(h, w) < config.detector.min_face_size:
        return (f"too small: {w}x{h} px, smaller than the smallest face searched for, "
                f"{config.detector.min_face_size} px (detector.min_face_size)")
    faces = choose_subject(detector.detect(image), image.shape)
    if len(faces):
        return extract_crops(image, faces, size, config.crop.margin, config.crop.align)[0]
    if config.train.no_face == "whole":
        return extract_crops(image, Faces(np.array([[0, 0, w, h]], np.float32)), size, margin=0.0, align=False)[0]
    return TIGHT_CROP if looks_like_face_crop(image, detector) else NO_FACE


def features_for_images(
    items: list[tuple[str, Path]],
    detector: Detector,
    backbone: Backbone,
    config: Config,
    cache: FeatureCache | None,
    progress: bool = True,
) -> ImageFeatures:
    """Features for ``(person, path)`` items; bad files, faceless and too small images are skipped
    with a reason."""
    result = ImageFeatures()
    pending: list[tuple[str, Path, str, np.ndarray]] = []

    def flush() -> None:
        feats = backbone.features(np.stack([crop for *_, crop in pending]), mirror=config.crop.mirror)
        for (person, path, digest, _), feat in zip(pending, feats):
            if cache:
                cache.put(person, digest, feat)
            result.features.append(feat), result.paths.append(path), result.people.append(person)
        pending.clear()

    with Progress("features", len(items), enabled=progress) as bar:
        for person, path in items:
            bar.update()
            try:
                digest = file_hash(path)
            except OSError as exc:
                result.skipped.append((path, f"cannot read: {exc.strerror or exc}"))
                continue
            cached = cache.get(person, digest) if cache else None
            if isinstance(cached, str):
                result.skipped.append((path, cached))
                continue
            if cached is not None:
                result.features.append(cached), result.paths.append(path), result.people.append(person)
                continue
            try:
                crop = _subject_crop(path, detector, config, backbone.input_size)
            except ImageError as exc:
                result.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            if isinstance(crop, str):
                result.skipped.append((path, crop))
                if cache:
                    cache.put(person, digest, crop)
                continue
            pending.append((person, path, digest, crop))
            if len(pending) >= _CHUNK:
                flush()
        if pending:
            flush()
    return result
