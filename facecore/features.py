"""From image files to backbone features, with a per-image cache on disk.

1. read the file (``read_image``), 2. detect faces and choose the subject,
3. crop (``extract_crops``), 4. one batched backbone call per chunk of crops,
5. store each image's features under its content hash and the settings.
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

import numpy as np

from .backbones import Backbone
from .config import Config
from .crops import extract_crops
from .detector import Detector
from .errors import ImageError
from .faces import Faces
from .files import write_private
from .images import read_image
from .people import make_private_dir
from .progress import Progress

__all__ = ["FeatureCache", "choose_subject", "ImageFeatures", "features_for_images", "settings_key", "file_hash"]

log = logging.getLogger(__name__)
_CHUNK = 16


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
    """``<root>/<person>/<settings>-<image hash>.npy``; an empty array marks "no face"."""

    def __init__(self, root: str | os.PathLike, settings: str) -> None:
        self.root, self.settings = Path(root), settings

    def _path(self, person: str, digest: str) -> Path:
        return self.root / person / f"{self.settings}-{digest[:32]}.npy"

    def get(self, person: str, digest: str) -> np.ndarray | None:
        path = self._path(person, digest)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None

    def put(self, person: str, digest: str, features: np.ndarray) -> None:
        path = self._path(person, digest)
        if not path.parent.is_dir():
            make_private_dir(self.root)
            make_private_dir(path.parent)
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(features, np.float32), allow_pickle=False)
        write_private(path, buffer.getvalue(), sync=False)  # a lost entry is only computed again

    def remove_person(self, person: str) -> None:
        shutil.rmtree(self.root / person, ignore_errors=True)


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


def _subject_crop(path: Path, detector: Detector, config: Config, size: int) -> np.ndarray | None:
    image = read_image(path, config.train.max_image_side)
    faces = choose_subject(detector.detect(image), image.shape)
    if len(faces) == 0:
        if config.train.no_face != "whole":
            return None
        h, w = image.shape[:2]
        faces = Faces(np.array([[0, 0, w, h]], np.float32))
        return extract_crops(image, faces, size, margin=0.0, align=False)[0]
    return extract_crops(image, faces, size, config.crop.margin, config.crop.align)[0]


def features_for_images(
    items: list[tuple[str, Path]],
    detector: Detector,
    backbone: Backbone,
    config: Config,
    cache: FeatureCache | None,
    progress: bool = True,
) -> ImageFeatures:
    """Features for ``(person, path)`` items; bad files and faceless images are skipped with a reason."""
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
            if cached is not None:
                if cached.size == 0:
                    result.skipped.append((path, "no face found"))
                else:
                    result.features.append(cached), result.paths.append(path), result.people.append(person)
                continue
            try:
                crop = _subject_crop(path, detector, config, backbone.input_size)
            except ImageError as exc:
                result.skipped.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            if crop is None:
                result.skipped.append((path, "no face found"))
                if cache:
                    cache.put(person, digest, np.zeros(0, np.float32))
                continue
            pending.append((person, path, digest, crop))
            if len(pending) >= _CHUNK:
                flush()
        if pending:
            flush()
    return result
