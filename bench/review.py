"""Grouping strangers for ``face-enroll review``: ``python -m bench.review``.

1. ``default``: genuine pairs and hard impostor pairs (each person with the person the backbone
   finds most alike) of ``unknown-dev/lfw`` and ``lfw-dev`` together (156 people), the distance
   the purity-first rule (:func:`enroll.clusters.purity_distance`) takes from them, the
   backbone's default (:data:`enroll.clusters.DEFAULT_DISTANCE`), and what it costs: the share
   of genuine pairs it leaves apart, against the older balanced rule; the genuine quantiles of
   :data:`enroll.calibration.GENUINE_PRIOR` and the track distance of :mod:`enroll.constraints`.
2. ``lfw``: the 79 people x 10 photos of ``lfw-dev`` treated as strangers face-live kept,
   grouped at that default: clusters against people, purity (the share of photos in their
   cluster's majority person), completeness (the share in their person's main cluster), and
   what naming the largest cluster would enroll; ``lookalikes``: the same for the 8 pairs of
   people of both sets whose photos the backbone finds most alike.
3. ``clips``: face-live over ``biden.mp4`` and the Hamilton clip with only Obama enrolled, then
   ``review``: clusters against the people of the hand labels (``tests/realtime/clip_labels.py``);
   and, with only the two Hamilton performers enrolled (so that the model runs and strangers'
   faces are kept), over one clip made by joining ``obama.mp4`` and ``biden.mp4``.
4. ``timing``: the ``face-enroll review`` command (a fresh process, as a user runs it) on a store of
   10,000 faces: LFW photos with their facenet features, as face-live keeps them.
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

from enroll.clusters import DEFAULT_DISTANCE, cluster, hard_impostors, merge_distance, pair_scores, purity, \
    purity_distance
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
    hard = hard_impostors(x, people)
    chosen, balanced = purity_distance(genuine, hard), merge_distance(genuine, impostor)
    return {"people": int(len(np.unique(people))), "photos": int(len(x)), "genuine_pairs": int(len(genuine)),
            "hard_pairs": int(len(hard)), "distance": round(chosen, 4), "balanced": round(balanced, 4),
            "genuine_apart": round(float(np.mean(genuine < 1.0 - chosen)), 4),
            "genuine_apart_balanced": round(float(np.mean(genuine < 1.0 - balanced)), 4),
            "hard_joined": round(float(np.mean(hard >= 1.0 - chosen)), 4),
            "genuine_p995_distance": round(1.0 - float(np.quantile(genuine, 0.005)), 4),
            "hard_median_distance": round(1.0 - float(np.median(hard)), 4),
            "genuine_prior": {q: round(float(np.quantile(genuine, q)), 3) for q in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)}}


def grouping(clusters: np.ndarray, people: np.ndarray) -> dict:
    """Clusters against people, purity, completeness, and who the largest cluster holds."""
    ids, sizes = np.unique(clusters, return_counts=True)
    largest = people[clusters == ids[sizes.argmax()]]
    names, counts = np.unique(largest, return_counts=True)
    return {"people": int(len(np.unique(people))), "faces": int(len(people)),
            "clusters": int(len(ids)), "purity": round(purity(clusters, people), 4),
            "completeness": round(purity(people, clusters), 4),
            "largest": f"{len(largest)} faces: " + ", ".join(f"{n} {c}" for c, n in sorted(zip(counts, names),
                                                                                             reverse=True)[:3])}


def lookalikes(x: np.ndarray, people: np.ndarray, pairs: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The photos of the ``pairs`` pairs of people (no one twice) whose mean features are most alike."""
    names = np.unique(people)
    centres = np.stack([x[people == n].mean(axis=0) for n in names])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    alike = np.triu(centres @ centres.T, k=1)
    chosen: list[int] = []
    for flat in np.argsort(alike, axis=None)[::-1]:
        a, b = np.unravel_index(flat, alike.shape)
        if a not in chosen and b not in chosen:
            chosen += [int(a), int(b)]
        if len(chosen) == 2 * pairs:
            break
    keep = np.isin(people, names[chosen])
    return x[keep], people[keep]


def _live_review(config, models: Models, root: Path, sources: dict, overrides: list[str], model: Path | None):
    """face-live over ``sources`` (name: path) keeping faces in ``root``, then ``review``."""
    from enroll.review import review
    from realtime.cli import live

    argv = [arg for name, path in sources.items() for arg in ("--source", f"{name}={path}")]
    sets = [arg for o in [*overrides, *CLIP_SETTINGS] for arg in ("--set", o)]
    live([*argv, "--headless", *(["--model", str(model)] if model else []), "--log", str(root / "log.csv"),
          "--faces", str(root / "faces"), *sets], models=models)
    cfg = config.replace(faces={"folder": str(root / "faces")}, review={"sheets": str(root / "sheets")},
                         train={"model": str(model or root / "no-model")})
    return review(cfg, models=models)


def _judged(result, who) -> dict:
    faces = [(c.id, who(f)) for c in result.clusters for f in c.faces]
    clusters, people = np.array([c for c, _ in faces]), np.array([str(p) for _, p in faces])
    return {**grouping(clusters, people), "unlabelled": int(np.sum(people == "None")),
            "distance": result.distance}


def joined_clip(path: Path) -> int:
    """``obama.mp4`` then ``biden.mp4`` (at obama's size) as one clip at ``path``; Obama's frames."""
    import cv2

    first, second = cv2.VideoCapture(str(VIDEOS / "obama-biden" / "obama.mp4")), \
        cv2.VideoCapture(str(VIDEOS / "obama-biden" / "biden.mp4"))
    size = (int(first.get(cv2.CAP_PROP_FRAME_WIDTH)), int(first.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    out, frames = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, size), 0
    for capture in (first, second):
        while (frame := capture.read()[1]) is not None:
            out.write(cv2.resize(frame, size) if frame.shape[1::-1] != size else frame)
            frames += capture is first
        capture.release()
    out.release()
    return frames


def clips_run(config, models: Models, overrides: list[str]) -> dict:
    """Only Obama enrolled, face-live over biden.mp4 and the Hamilton clip, judged by the hand labels;
    only the Hamilton performers enrolled, over obama.mp4 and biden.mp4 joined."""
    from enroll.training import train

    sys.path.insert(0, str(REPO / "tests" / "realtime"))
    from clip_labels import who

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = config.replace(train={"min_images": 1, "cache_dir": str(root / "cache")})
        for people, folders in (("obama", ["obama-biden/enroll/obama"]),
                                ("hamilton", ["hamilton-whitehouse/enroll/alex_lacamoire",
                                              "hamilton-whitehouse/enroll/lin_manuel_miranda"])):
            for folder in map(Path, folders):
                (root / people / folder.name).mkdir(parents=True)
                for photo in (VIDEOS / folder).iterdir():
                    (root / people / folder.name / photo.name).write_bytes(photo.read_bytes())
            train(cfg, root / people, root / f"model-{people}", models=models, progress=False)
        sources = {Path(clip).name: VIDEOS / clip for clip in CLIPS}
        result = _live_review(cfg, models, root / "a", sources, overrides, root / "model-obama")
        out["biden+hamilton"] = _judged(result, lambda f: who(f.source, f.frame, f.box))
        cut = joined_clip(root / "joined.mp4")  # two strangers: only others enrolled, so faces are kept
        result = _live_review(cfg, models, root / "b", {"joined": root / "joined.mp4"}, overrides,
                              root / "model-hamilton")
        out["obama+biden joined"] = _judged(result, lambda f: "obama" if f.frame < cut else "biden")
    return out


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
    p.add_argument("--faces", type=int, default=10000, help="stored faces for the timing")
    p.add_argument("--cache", default="/tmp/facecam-bench-cache", help="feature cache (reused between runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    overrides = ["backbone.name=facenet", f"backbone.weights={FACENET_H5}", *args.overrides]
    config, parts, out = load_config(None, overrides), args.parts.split(","), {"load_average_start": load_average()}
    models = Models.build(config)
    tag = backbone_tag(models.backbone.name, models.backbone.weights_id)
    xu, pu, upaths = photo_features(config, models, SHARED / "data" / "unknown-dev" / "lfw", args.cache)
    xd, pd, paths = photo_features(config, models, SHARED / "data" / "lfw-dev", args.cache)
    both_x, both_p = np.concatenate([xu, xd]), np.concatenate([pu, pd])
    if "default" in parts:
        out["default"] = default_distance(both_x, both_p)
        print_table([{k: v for k, v in out["default"].items() if k != "genuine_prior"}], list(out["default"])[:-1])
        print(f"genuine pair similarity quantiles (GENUINE_PRIOR): {out['default']['genuine_prior']}")
    distance = DEFAULT_DISTANCE[config.backbone.name]
    if "lfw" in parts:
        for name, (x, people) in {"lfw-dev": (xd, pd), "lookalikes": lookalikes(both_x, both_p)}.items():
            for d in (distance, 0.566):
                out.setdefault("lfw", {})[f"{name} at {d}"] = {"distance": d, **grouping(cluster(x, d), people)}
        print_table([{"case": k, **v} for k, v in out["lfw"].items()], ["case", *next(iter(out["lfw"].values()))])
    if "clips" in parts:
        out["clips"] = clips_run(config, models, args.overrides)
        print_table([{"case": k, **v} for k, v in out["clips"].items()], ["case", *next(iter(out["clips"].values()))])
    if "timing" in parts:
        out["timing"] = timing(config, both_x, [*upaths, *paths], tag, args.faces, overrides)
        print_table([out["timing"]], list(out["timing"]))
    write_results("review", {"args": vars(args), **out})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
