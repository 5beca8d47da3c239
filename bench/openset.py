"""Strangers vs small enrollments: ``python -m bench.openset``.

How often a stranger gets a name, and a new photo of an enrolled person gets theirs,
when only k people are enrolled (k from 2 to all 79 of lfw-dev, 8 photos each, the
other photos tested). Strangers are unknown-dev plus every lfw-dev person not
enrolled in that trial. Each trial is calibrated exactly as ``face-enroll train``
does, with the configured rules and with the genuine rule off (``target_frr = 0``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from enroll.training import fit_and_calibrate
from facecore.models import Models
from facecore.app import quiet_tensorflow, setup_logging
from facecore.config import load_config
from facecore.features import FeatureCache, features_for_images, settings_key
from facecore.images import list_images

from .common import FACENET_H5, SHARED, print_table, write_results

COLUMNS = ["people", "rules", "trials", "accuracy", "accuracy_min", "false_accepts", "false_accepts_max", "threshold"]


def load_features(config, data: Path, unknown: Path, cache_dir: Path):
    """Features of every lfw-dev photo (first 8 of a person enrolled) and every stranger photo."""
    models = Models.build(config)
    cache = FeatureCache(cache_dir, settings_key(config, models.backbone))
    people = sorted(p for p in data.iterdir() if p.is_dir())
    items = [(p.name, f) for p in people for f in list_images(p)]
    found = features_for_images(items, models.detector, models.backbone, config, cache, progress=True)
    strangers = features_for_images([("_unknown", f) for f in list_images(unknown, recursive=True)],
                                    models.detector, models.backbone, config, cache, progress=True)
    order = {f: i for i, (_, f) in enumerate(items)}
    rank = np.array([order[p] for p in found.paths])
    return np.stack(found.features), np.array(found.people), rank, np.stack(strangers.features)


def trial(config, x, people, rank, strangers, chosen) -> tuple[float, float, float]:
    enrolled, tested, ye, yt = [], [], [], []
    for label, name in enumerate(chosen):
        idx = np.flatnonzero(people == name)
        idx = idx[np.argsort(rank[idx])]
        enrolled += list(idx[:8])
        tested += list(idx[8:])
        ye += [label] * len(idx[:8])
        yt += [label] * len(idx[8:])
    others = np.flatnonzero(~np.isin(people, chosen))
    fitted = fit_and_calibrate(config, x[enrolled], np.array(ye), len(chosen))
    t = fitted.calibration["threshold"]
    s, su = fitted.final.scores(x[tested]), fitted.final.scores(np.concatenate([strangers, x[others]]))
    accuracy = float(np.mean((s.argmax(1) == np.array(yt)) & (s.max(1) >= t)))
    return accuracy, float(np.mean(su.max(1) >= t)), t


def run(args) -> list[dict]:
    base = [f"backbone.name={args.backbone}", f"backbone.weights={args.weights}", *args.overrides]
    config = load_config(None, base)
    x, people, rank, strangers = load_features(config, Path(args.data), Path(args.unknown), Path(args.cache))
    names = np.unique(people)
    rows = []
    for k in [int(v) for v in args.people.split(",")]:
        k = min(k, len(names))
        trials = 1 if k == len(names) else args.trials
        for rules, extra in (("configured", []), ("impostor only", ["recognition.target_frr=0"])):
            cfg = load_config(None, base + extra)
            rng = np.random.default_rng(args.seed)
            got = np.array([trial(cfg, x, people, rank, strangers, list(rng.choice(names, k, replace=False)))
                            for _ in range(trials)])
            rows.append({"people": k, "rules": rules, "trials": trials, "accuracy": got[:, 0].mean(),
                         "accuracy_min": got[:, 0].min(), "false_accepts": got[:, 1].mean(),
                         "false_accepts_max": got[:, 1].max(), "threshold": got[:, 2].mean()})
    return rows


def main(argv=None) -> int:
    quiet_tensorflow()
    setup_logging()
    p = argparse.ArgumentParser(prog="python -m bench.openset", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(SHARED / "data" / "lfw-dev"))
    p.add_argument("--unknown", default=str(SHARED / "data" / "unknown-dev"))
    p.add_argument("--backbone", default="facenet")
    p.add_argument("--weights", default=str(FACENET_H5))
    p.add_argument("--people", default="2,3,5,10,20,79", help="enrolled people per trial")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache", default="/tmp/facecam-bench-cache", help="feature cache (reused between runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    rows = run(args)
    print_table(rows, COLUMNS)
    write_results("openset", {"args": vars(args), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
