"""``face-enroll review``: the strangers face-live kept, grouped by person, to name or discard.

1. read the stored faces named ``unknown`` (:mod:`facecore.facestore`); a face without a
   feature vector of the backbone in use (logged before anyone was enrolled, or under
   another backbone) gets one from its picture, found again by the detector, and its
   record is updated;
2. group them (:func:`enroll.clusters.cluster`) at the distance measured on the enrolled
   photos (the bundle's ``cluster_distance``), else the backbone's default, unless
   ``review.distance`` says otherwise, bound by what the video says
   (:func:`enroll.constraints.video_constraints`: a track's faces go together, two faces of one
   frame never do);
3. number the groups, most faces first, and save which faces each holds beside the contact
   sheets (``clusters.json``): ``--name ID`` and ``--discard ID`` act on the very faces the
   last review showed, even when face-live has kept more since.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecore.backbones import weights_identity
from facecore.bundle import read_meta
from facecore.config import Config
from facecore.errors import UsageError
from facecore.faces import UNKNOWN
from facecore.facestore import FaceStore, StoredFace, backbone_tag
from facecore.files import write_private
from facecore.heads import unit_features
from facecore.people import make_private_dir

from .clusters import DEFAULT_DISTANCE, cluster
from .constraints import video_constraints
from .sheets import contact_sheet

__all__ = ["Cluster", "Review", "review", "group_faces", "with_features", "load_cluster", "forget_cluster",
           "save_clusters", "saved_clusters", "merge_distance_for", "CLUSTERS_FILE"]

log = logging.getLogger(__name__)
CLUSTERS_FILE = "clusters.json"


@dataclass
class Cluster:
    """One group of faces, best first (``faces[0]`` has the highest quality score)."""

    id: int
    faces: list[StoredFace]
    sheet: Path | None = None

    @property
    def first_seen(self) -> str:
        return min(f.time for f in self.faces)

    @property
    def last_seen(self) -> str:
        return max(f.time for f in self.faces)

    @property
    def sources(self) -> list[str]:
        return sorted({f.source for f in self.faces})

    def as_dict(self) -> dict:
        return {"id": self.id, "faces": len(self.faces), "first_seen": self.first_seen,
                "last_seen": self.last_seen, "sources": self.sources,
                "sheet": str(self.sheet) if self.sheet else None}


@dataclass
class Review:
    clusters: list[Cluster]
    distance: float
    basis: str  # where the distance came from, in words
    skipped: int  # faces left out: no face found in the picture again


def merge_distance_for(config: Config) -> tuple[float, str]:
    """The distance to group faces at, and where it came from."""
    if config.review.distance > 0:
        return config.review.distance, "review.distance"
    meta = read_meta(config.train.model) or {}
    measured, trained = meta.get("cluster_distance"), meta.get("backbone", {})
    if isinstance(measured, dict) and trained.get("name") == config.backbone.name:
        return float(measured["distance"]), (f"measured on the enrolled photos ({measured['genuine_pairs']} genuine "
                                             f"and {measured['impostor_pairs']} impostor pairs)")
    if config.backbone.name in DEFAULT_DISTANCE:
        return DEFAULT_DISTANCE[config.backbone.name], f"the {config.backbone.name} default, measured on LFW"
    raise UsageError(f"too few enrolled photos to measure how far apart two people's faces are, and backbone "
                     f"{config.backbone.name} has no measured default: set review.distance (cosine, e.g. 0.5)")


def with_features(config: Config, store: FaceStore, faces: list[StoredFace], models) -> list[StoredFace]:
    """``faces``, each with a feature vector of the backbone in use (computed from the picture where it
    has none, or another backbone's; the record is updated). Faces whose picture shows no face
    are left out, with a warning."""
    from facecore.features import features_for_images

    tag = backbone_tag(config.backbone.name, weights_identity(config.backbone))
    ready = [f for f in faces if f.features is not None and f.backbone == tag]
    missing = [f for f in faces if f.features is None or f.backbone != tag]
    if not missing:
        return ready
    models = models() if callable(models) else models
    found = features_for_images([(f.id, store.image_path(f.id)) for f in missing], models.detector,
                                models.backbone, config, None, progress=False)
    by_id = {f.id: f for f in missing}
    for face_id, feature in zip(found.people, found.features):
        ready.append(store.update(by_id[face_id], features=unit_features(feature[None])[0], backbone=tag))
    for path, why in found.skipped:
        log.warning("left out of the review: %s (%s)", path, why)
    return sorted(ready, key=lambda f: f.id)


def group_faces(faces: list[StoredFace], distance: float) -> list[list[StoredFace]]:
    """``faces`` (each with features) grouped at ``distance`` under the video's constraints, the
    groups most faces first (then first seen), each group best face first."""
    if not faces:
        return []
    x = np.stack([f.features for f in faces])
    units, cannot = video_constraints(faces, unit_features(x))
    groups = cluster(x, distance, units, cannot)
    members = [[faces[i] for i in np.flatnonzero(groups == g)] for g in np.unique(groups)]
    members.sort(key=lambda m: (-len(m), min(f.time for f in m)))
    return [sorted(m, key=lambda f: -f.score) for m in members]


def review(config: Config, models=None) -> Review:
    """Group the stored unknown faces, write a contact sheet per group and ``clusters.json`` into
    ``review.sheets`` (its earlier sheets are removed first). ``models``: built ``Models``, or a
    function building them, used only when some face needs its features computed."""
    store = FaceStore(config.faces.folder)
    unknown = [f for f in store.faces() if f.name == UNKNOWN]
    faces = with_features(config, store, unknown, models) if unknown else []
    distance, basis = merge_distance_for(config) if faces else (0.0, "no faces")
    clusters = [Cluster(number, m) for number, m in enumerate(group_faces(faces, distance), 1)]
    _write_sheets(config, store, clusters)
    return Review(clusters, distance, basis, len(unknown) - len(faces))


def _write_sheets(config: Config, store: FaceStore, clusters: list[Cluster]) -> None:
    folder = Path(config.review.sheets)
    if folder.is_dir():
        shutil.rmtree(folder)  # sheets of an earlier review may show faces deleted since
    make_private_dir(folder)
    save_clusters(config, store, clusters)


def save_clusters(config: Config, store: FaceStore, clusters: list[Cluster]) -> None:
    """Write the sheets of ``clusters`` and add them to ``clusters.json`` (in place of clusters of
    the same numbers)."""
    folder = Path(config.review.sheets)
    for c in clusters:
        c.sheet = write_private(folder / f"cluster-{c.id:03d}.png", contact_sheet(store, c), sync=False)
    saved = _saved(config) if (folder / CLUSTERS_FILE).is_file() else {}
    saved.update({str(c.id): [f.id for f in c.faces] for c in clusters})
    _write_saved(config, saved)


def _write_saved(config: Config, clusters: dict) -> None:
    path = Path(config.review.sheets) / CLUSTERS_FILE
    write_private(path, json.dumps({"faces": config.faces.folder, "clusters": clusters}).encode())


def saved_clusters(config: Config) -> dict[str, list[str]]:
    """The last review's clusters: ``{number: [face id, ...]}``."""
    return _saved(config)


def _saved(config: Config) -> dict:
    path = Path(config.review.sheets) / CLUSTERS_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        clusters = saved["clusters"]
        assert isinstance(clusters, dict) and all(isinstance(v, list) for v in clusters.values())
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise UsageError(f"no review to act on in {path.parent}: run face-enroll review first") from None
    return clusters


def load_cluster(config: Config, number: int) -> list[StoredFace]:
    """The faces of cluster ``number`` of the last review that are still kept, best first."""
    clusters = _saved(config)
    if str(number) not in clusters:
        raise UsageError(f"the last review has no cluster {number} (it had {len(clusters)}; "
                         f"run face-enroll review again to see them)")
    store, wanted = FaceStore(config.faces.folder), set(clusters[str(number)])
    faces = [f for f in store.faces() if f.id in wanted]
    if not faces:
        raise UsageError(f"no face of cluster {number} is kept any more: run face-enroll review again")
    return sorted(faces, key=lambda f: -f.score)


def forget_cluster(config: Config, number: int) -> None:
    """Take cluster ``number`` out of the last review (its sheet too): it was named or discarded."""
    clusters = _saved(config)
    clusters.pop(str(number), None)
    (Path(config.review.sheets) / f"cluster-{number:03d}.png").unlink(missing_ok=True)
    _write_saved(config, clusters)
