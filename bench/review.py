"""Grouping strangers for ``face-enroll review``: ``python -m bench.review``.

1. ``default``: genuine and impostor pair scores of the backbone on ``unknown-dev/lfw`` (77 people
   no test enrolls), and the distance the rule of :func:`enroll.clusters.merge_distance` takes
   from them: the backbone's default (:data:`enroll.clusters.DEFAULT_DISTANCE`).
2. ``lfw``: the 79 people x 10 photos of ``lfw-dev`` treated as strangers face-live kept,
   grouped at that default: clusters against people, purity (the share of photos in their
   cluster's majority person) and completeness (the share in their person's main cluster).
3. ``clips``: face-live over ``biden.mp4`` and the Hamilton clip with only Obama enrolled, then
   ``review``: clusters against the people of the hand labels (``tests/realtime/clip_labels.py``).
4. ``timing``: the ``face-enroll review`` command (a fresh process, as a user runs it) on a store of
   1,000 faces: LFW photos with their facenet features, as face-live keeps them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from enroll.clusters import DEFAULT_DISTANCE, cluster, merge_distance, pair_scores, purity
from facecore.app import quiet_tensorflow, setup_logging
from facecore.config import load_config
from facecore.facestore import FaceStore, StoredFace, backbone_tag, new_face_id
from facecore.features import FeatureCache, features_for_images, settings_key
from facecore.heads import unit_features
from facecore.images import list_images
from facecore.models import Models

from .common import FACENET_H5, REPO, SHARED, VIDEOS, load_average, print_table, write_results

CLIPS = ("obama-biden/biden.mp4", "hamilton-whitehouse/short_hamilton_clip.mp4")
CLIP_SETTINGS = ["detector.every_n_frames=1", "tracker.recognize_every=3"]


def photo_features(config, models: Models, root: Path, cache_dir: str) -> tuple[np.ndarray, np.ndarray, list]:
    """Unit features, person labels and paths of every photo under ``root/<person>/`` (cached)."""
    cache = FeatureCache(cache_dir, settings_key(config, models.backbone))
    items = [(p.parent.name, p) for p in list_images(root, recursive=True)]
    found = features_for_images(items, models.detector, models.backbone, config, cache, progress=False)
    return unit_features(np.stack(found.features)), np.array(found.people), found.paths


def default_distance(x: np.ndarray, people: np.ndarray) -> dict:
    genuine, impostor = pair_scores(x, people)
    return {"people": int(len(np.unique(people))), "photos": int(len(x)), "genuine_pairs": int(len(genuine)),
            "impostor_pairs": int(len(impostor)), "genuine_p05": float(np.quantile(genuine, 0.05)),
            "impostor_p999": float(np.quantile(impostor, 0.999)), "distance": merge_distance(genuine, impostor)}


def grouping(clusters: np.ndarray, people: np.ndarray) -> dict:
    return {"people": int(len(np.unique(people))), "faces": int(len(people)),
            "clusters": int(len(np.unique(clusters))), "purity": purity(clusters, people),
            "completeness": purity(people, clusters)}


def clips_run(config, models: Models, overrides: list[str]) -> dict:
    """face-live over the clips with only Obama enrolled, then review, judged by the hand labels."""
    from enroll.review import review
    from enroll.training import train
    from realtime.cli import live

    sys.path.insert(0, str(REPO / "tests" / "realtime"))
    from clip_labels import who

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        obama = VIDEOS / "obama-biden" / "enroll" / "obama"
        (root / "people" / "obama").mkdir(parents=True)
        for photo in obama.iterdir():
            (root / "people" / "obama" / photo.name).write_bytes(photo.read_bytes())
        cfg = config.replace(train={"min_images": 1, "cache_dir": str(root / "cache")})
        train(cfg, root / "people", root / "model", models=models, progress=False)
        sources = [arg for clip in CLIPS for arg in ("--source", f"{Path(clip).name}={VIDEOS / clip}")]
        sets = [arg for o in [*overrides, *CLIP_SETTINGS] for arg in ("--set", o)]
        live([*sources, "--headless", "--model", str(root / "model"), "--log", str(root / "log.csv"),
              "--snapshots", str(root / "faces"), *sets], models=models)
        cfg = cfg.replace(faces={"folder": str(root / "faces")}, review={"sheets": str(root / "sheets")},
                          train={"model": str(root / "model")})
        result = review(cfg, models=models)
    faces = [(c.id, who(f.source, f.frame, f.box)) for c in result.clusters for f in c.faces]
    clusters, people = np.array([c for c, _ in faces]), np.array([str(p) for _, p in faces])
    return {**grouping(clusters, people), "unlabelled": int(np.sum(people == "None")),
            "distance": result.distance, "basis": result.basis}


def fill_store(folder: Path, x: np.ndarray, paths: list, tag: str, n: int) -> None:
    """``n`` faces in a new store at ``folder``: the photos in turn, each with its features."""
    store, start = FaceStore(folder), datetime.now(timezone.utc) - timedelta(hours=1)
    for i in range(n):
        k = i % len(paths)
        when = start + timedelta(seconds=i)
        face = StoredFace(new_face_id(when), when.isoformat(), "bench", i, i, "unknown", 0.0, (0, 0, 250, 250),
                          {"score": 0.5}, x[k], tag)
        store.add(face, Path(paths[k]).read_bytes())


def timing(config, x: np.ndarray, paths: list, tag: str, n: int, overrides: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        fill_store(Path(tmp) / "faces", x, paths, tag, n)
        sets = [arg for o in overrides for arg in ("--set", o)]
        load = load_average()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "enroll.cli", "review", "--headless", "--faces",
                               str(Path(tmp) / "faces"), "--sheets", str(Path(tmp) / "sheets"), "--model",
                               str(Path(tmp) / "none"), *sets], capture_output=True, text=True, cwd=tmp,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        seconds = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"face-enroll review failed: {done.stderr.strip()}")
        sheets = len(list((Path(tmp) / "sheets").glob("*.png")))
    return {"faces": n, "seconds": round(seconds, 2), "sheets": sheets, "load_average": load,
            "summary": done.stdout.strip().splitlines()[-1]}


def main(argv=None) -> int:
    quiet_tensorflow()
    setup_logging()
    p = argparse.ArgumentParser(prog="python -m bench.review", description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="default,lfw,clips,timing")
    p.add_argument("--faces", type=int, default=1000, help="stored faces for the timing")
    p.add_argument("--cache", default="/tmp/facecam-bench-cache", help="feature cache (reused between runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    overrides = ["backbone.name=facenet", f"backbone.weights={FACENET_H5}", *args.overrides]
    config, parts, out = load_config(None, overrides), args.parts.split(","), {"load_average_start": load_average()}
    models = Models.build(config)
    tag = backbone_tag(models.backbone.name, models.backbone.weights_id)
    xu, pu, upaths = photo_features(config, models, SHARED / "data" / "unknown-dev" / "lfw", args.cache)
    xd, pd, paths = photo_features(config, models, SHARED / "data" / "lfw-dev", args.cache)
    if "default" in parts:
        out["default"] = default_distance(xu, pu)
        print_table([out["default"]], list(out["default"]))
    distance = DEFAULT_DISTANCE[config.backbone.name]
    if "lfw" in parts:
        out["lfw"] = {"distance": distance, **grouping(cluster(xd, distance), pd)}
        print_table([out["lfw"]], list(out["lfw"]))
    if "clips" in parts:
        out["clips"] = clips_run(config, models, args.overrides)
        print_table([out["clips"]], list(out["clips"]))
    if "timing" in parts:
        out["timing"] = timing(config, np.concatenate([xd, xu]), [*paths, *upaths], tag, args.faces, overrides)
        print_table([out["timing"]], list(out["timing"]))
    write_results("review", {"args": vars(args), **out})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
