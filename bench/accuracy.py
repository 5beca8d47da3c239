"""Open-set accuracy of each head on real faces: ``python -m bench.accuracy``.

Enrolls the first ``--enroll`` photos of every person in ``--data``, tests on the
rest, and counts how often photos of ``--unknown`` strangers get a name, with the
threshold each bundle calibrated for itself (no strangers seen in training).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from enroll.evaluation import evaluate
from enroll.training import train
from facecore.models import Models
from facecore.app import quiet_tensorflow, setup_logging
from facecore.bundle import load_bundle
from facecore.config import load_config
from facecore.features import FeatureCache, settings_key
from facecore.images import list_images

from .common import FACENET_H5, SHARED, print_table, write_results

COLUMNS = ["backbone", "head", "accuracy", "closed_set", "false_accepts", "threshold", "n", "n_unknown", "train_s"]


def split_people(data: Path, enroll: int, dest: Path) -> tuple[Path, Path]:
    """Copy the first ``enroll`` photos of each person to dest/enroll, the rest to dest/test."""
    for person in sorted(p for p in data.iterdir() if p.is_dir()):
        photos = list_images(person)
        for part, chosen in (("enroll", photos[:enroll]), ("test", photos[enroll:])):
            if chosen:
                (dest / part / person.name).mkdir(parents=True, exist_ok=True)
                for photo in chosen:
                    shutil.copy(photo, dest / part / person.name / photo.name)
    return dest / "enroll", dest / "test"


def run(args) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="facecam-accuracy-"))
    enroll_dir, test_dir = split_people(Path(args.data), args.enroll, work)
    base = [f"backbone.name={args.backbone}", f"backbone.weights={args.weights}", f"train.cache_dir={work / 'cache'}"]
    base += args.overrides
    models = Models.build(load_config(None, base))
    rows = []
    for kind in args.heads.split(","):
        config = load_config(None, base + [f"head.kind={kind}"])
        start = time.monotonic()
        result = train(config, enroll_dir, work / f"model-{kind}", models=models, progress=False)
        seconds = time.monotonic() - start
        cache = FeatureCache(work / "cache-eval", settings_key(config, models.backbone))
        report = evaluate(config, test_dir, result.path, args.unknown, models=models, progress=False,
                          cache=cache).report
        meta = load_bundle(result.path).meta
        rows.append({
            "backbone": args.backbone, "head": kind, "accuracy": report["accuracy"],
            "closed_set": report["closed_set_accuracy"], "false_accepts": report["unknown_false_accept_rate"],
            "threshold": report["threshold"], "n": report["n"], "n_unknown": report["n_unknown"],
            "n_skipped": report["n_skipped"], "n_unknown_skipped": report.get("n_unknown_skipped"),
            "train_s": round(seconds, 1), "people": len(result.labels), "threshold_parts": meta["threshold_parts"],
        })
    shutil.rmtree(work, ignore_errors=True)
    return rows


def main(argv=None) -> int:
    quiet_tensorflow()
    setup_logging()
    p = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(SHARED / "data" / "lfw-dev"))
    p.add_argument("--unknown", default=str(SHARED / "data" / "unknown-dev"))
    p.add_argument("--enroll", type=int, default=8, help="photos enrolled per person (the rest are tested)")
    p.add_argument("--backbone", default="facenet")
    p.add_argument("--weights", default=str(FACENET_H5))
    p.add_argument("--heads", default="centroid,linear,mlp")
    p.add_argument("--name", default="accuracy", help="name of the JSON result file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="config override for every run (repeatable)")
    args = p.parse_args(argv)
    rows = run(args)
    print_table(rows, COLUMNS)
    write_results(args.name, {"args": vars(args), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
