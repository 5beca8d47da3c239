"""Naming a cluster of kept faces (``face-enroll review --name``), checked before anything is written.

1. take the cluster's faces, or some of them (``--only`` / ``--except`` face ids);
2. check that they look like one person, among themselves and against the person's existing
   photos (their features from the training cache, or computed): faces outside the largest
   group they form at cosine distance ``APART`` (average linkage), or further than that on
   average from the photos, stand apart, and naming is refused, saying which faces, unless
   forced;
3. order them most different first (farthest-point order from the best face), so that a short
   track's faces give different views rather than near-duplicates;
4. judge them through the import gate at their stored boxes (the live detector found them: the
   face there is judged, the picture is not searched again from scratch), in a scratch copy of
   the person's folder; fewer usable photos than ``train.min_images`` is an error that says what
   would help, with nothing written. Otherwise the photos that passed are copied in.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecore.config import Config
from facecore.errors import DataError, UsageError
from facecore.facestore import FaceStore, StoredFace, box_in_crop
from facecore.files import write_private
from facecore.heads import unit_features
from facecore.images import list_images, read_image

from .linkage import constrained_clusters, unit_vectors
from .people import ImportResult, import_photos, person_folder

__all__ = ["take_faces", "standing_apart", "most_different", "photo_features", "judge_and_import", "APART",
           "Named", "name_cluster"]

# cosine distance: 99.5% of LFW genuine pairs are closer (unknown-dev/lfw and lfw-dev, 3,701 pairs:
# 0.614; python -m bench.review); an average over several faces varies less than one pair
APART = 0.61


def _ids(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def take_faces(faces: list[StoredFace], only: str | None, leave: str | None) -> list[StoredFace]:
    """``faces`` as ``--only ID,ID`` or ``--except ID,...`` say (ids, or the names of their pictures)."""
    known = {f.id for f in faces}
    wanted, unwanted = [Path(i).stem for i in _ids(only)], [Path(i).stem for i in _ids(leave)]
    strangers = [i for i in wanted + unwanted if i not in known]
    if strangers:
        raise UsageError(f"not in this cluster: {', '.join(strangers)} (its faces are on its contact sheet and in "
                         f"clusters.json)")
    taken = [f for f in faces if (not wanted or f.id in wanted) and f.id not in unwanted]
    if not taken:
        raise UsageError("--only/--except leave no face of the cluster to name")
    return taken


def standing_apart(x: np.ndarray, existing: np.ndarray, limit: float = APART) -> list[int]:
    """Indices of the faces ``x`` ``(n, d)`` that stand apart: outside the largest group they form
    at cosine distance ``limit`` (average linkage), or further than ``limit`` on average from the
    ``existing`` photos ``(m, d)``."""
    groups = constrained_clusters(x, limit)
    main = np.bincount(groups).argmax()
    apart = set(np.flatnonzero(groups != main).tolist())
    if len(existing):
        apart |= set(np.flatnonzero(1.0 - (unit_vectors(x) @ unit_vectors(existing).T).mean(axis=1) > limit).tolist())
    return sorted(apart)


def most_different(x: np.ndarray, scores: np.ndarray) -> list[int]:
    """Indices of ``x`` ``(n, d)`` in farthest-point order: the best-scored first, then each time the
    face whose cosine similarity to the nearest one already taken is lowest."""
    u = unit_vectors(x)
    order = [int(np.argmax(scores))]
    nearest = u @ u[order[0]]
    while len(order) < len(u):
        nearest[order] = np.inf
        nxt = int(np.argmin(nearest))
        order.append(nxt)
        nearest = np.maximum(nearest, u @ u[nxt])
    return order


def photo_features(config: Config, folder: Path, models) -> np.ndarray:
    """``(m, d)`` features of the photos in ``folder`` (from the training cache when there)."""
    from facecore.features import FeatureCache, features_for_images, settings_key

    photos = list_images(folder) if folder.is_dir() else []
    if not photos:
        return np.zeros((0, 1))
    models = models() if callable(models) else models
    cache = FeatureCache(config.train.cache_dir, settings_key(config, models.backbone))
    found = features_for_images([(folder.name, p) for p in photos], models.detector, models.backbone, config, cache,
                                progress=False)
    return unit_features(np.stack(found.features)) if found.features else np.zeros((0, 1))


def _boxes(config: Config, store: FaceStore, faces: list[StoredFace]) -> dict:
    """Where each face is in its picture (faces recorded without a box: the picture's subject)."""
    out = {}
    for f in faces:
        if any(f.box):
            picture = store.image_path(f.id)
            out[picture] = box_in_crop(f.box, read_image(picture).shape, config.capture.image_margin,
                                       config.capture.image_px)
    return out


def judge_and_import(config: Config, store: FaceStore, faces: list[StoredFace], name: str, data: Path,
                     detector, number: int) -> ImportResult:
    """Import ``faces`` (in that order, at most ``capture.count``) as photos of ``name``, or raise
    ``DataError`` with nothing written when the person would have fewer than ``train.min_images``."""
    folder = person_folder(data, name)
    existing = len(list_images(folder)) if folder.is_dir() else 0
    pictures = [store.image_path(f.id) for f in faces[:config.capture.count]]
    with tempfile.TemporaryDirectory(prefix="facecam-name-") as tmp:
        scratch = Path(tmp) / folder.name
        if folder.is_dir():
            shutil.copytree(folder, scratch, ignore=shutil.ignore_patterns("not", "frames"))
        result = import_photos(config, folder.name, pictures, Path(tmp), detector, relax=True,
                               boxes=_boxes(config, store, faces))
        usable = existing + len(result.saved)
        if usable < config.train.min_images:
            why = "; ".join(f"{n} {reason}" for reason, n in result.reasons().most_common())
            raise DataError(
                f"cluster {number} gives {name} {usable} usable photo{'s' * (usable != 1)} (train.min_images: "
                f"{config.train.min_images}{'; refused: ' + why if why else ''}); nothing was written. A longer run "
                f"in front of the camera keeps more faces of a track, or add photos with face-enroll import "
                f"{name!r} PHOTOS")
        target = person_folder(data, name, create=True)
        saved = [write_private(target / p.name, p.read_bytes(), overwrite=False) for p in result.saved]
    return ImportResult(result.total, saved, result.rejected, result.small)


@dataclass
class Named:
    """What :func:`name_cluster` did: the cluster's ``faces`` it named, those ``rest``ing in it, what
    the import gate ``result`` kept of them, and the ``detector`` it used (for the retraining)."""

    faces: list
    rest: list
    result: ImportResult
    detector: object


def name_cluster(config: Config, store: FaceStore, data: Path, number: int, name: str, only: str | None = None,
                 leave: str | None = None, force: bool = False, detector_for=None, models=None) -> Named:
    """Name cluster ``number`` of the last review ``name`` (``face-enroll review --name``): check its faces
    (as ``only``/``leave`` say) look like one person and like ``name``'s photos, import the most different
    of them, name them, and keep the rest in the cluster. Nothing is written when the check fails (unless
    ``force``: ``DataError`` naming the faces) or the faces would leave ``name`` with too few photos.
    ``models``: built ``Models`` (or a function building them), needed when features must be computed;
    ``detector_for(config)`` builds a detector when no models were built."""
    from facecore.models import Models

    from .review import Cluster, forget_cluster, load_cluster, save_clusters, with_features

    cluster = load_cluster(config, number)
    build = models if callable(models) else (lambda: models) if models is not None else (lambda: Models.build(config))
    built = functools.cache(build)
    faces = with_features(config, store, take_faces(cluster, only, leave), built)
    x = np.stack([f.features for f in faces])
    apart = standing_apart(x, photo_features(config, data / name, built))
    if apart and not force:
        raise DataError(f"these faces of cluster {number} do not look like the others"
                        f"{' or like ' + name + chr(39) + 's photos' if (data / name).is_dir() else ''}: "
                        f"{', '.join(faces[i].id for i in apart)}; leave them out (--except), or --force")
    order = most_different(x, np.array([f.score for f in faces]))
    detector = built().detector if built.cache_info().currsize or detector_for is None else detector_for(config)
    result = judge_and_import(config, store, [faces[i] for i in order], name, data, detector, number)
    for face in faces:
        store.update(face, name=name)
    rest = [f for f in cluster if f.id not in {g.id for g in faces}]
    forget_cluster(config, number) if not rest else save_clusters(config, store, [Cluster(number, rest)])
    return Named(faces, rest, result, detector)
