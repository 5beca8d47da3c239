"""Training time: full training for 10/20/40 people, and adding one person to 20 enrolled.

People are the first ``--people`` of ``lfw-dev`` with their first ``--photos`` photos each,
copied to a temporary folder. Everything runs with the facenet backbone from
``../shared/models`` unless ``--set backbone.*`` says otherwise.

- ``full N``: ``enroll.training.train`` on N people with an empty feature cache (every
  photo detected and run through the backbone), models built before (``model_build_s``
  says what building them costs).
- ``add one (in process)``: 20 people already in the cache, one more person folder added,
  ``train`` again: only the new person's photos are computed. The new person's cache
  entries are removed before each repeat.
- ``add one (face-enroll train)``: the same as a user runs it, ``face-enroll train`` as a new
  process: Python and TensorFlow start-up, model construction and the retrain on the clock.
- ``add one (face-enroll import)``: ``face-enroll import NAME PHOTOS --relax`` (with
  ``capture.min_face_px = 40``: LFW faces are small), the command that
  adds a person from photos: quality gate, then a retrain in the same process, whose own
  time (backbone built after the import, features, head, bundle) it prints.

    python -m bench.train --repeats 3

Prints a table and writes JSON to ``bench/results/train.json`` (``--name``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, SHARED, load_average, median, parse_args, print_table, write_results

COLUMNS = ["what", "people", "images", "seconds", "models_s", "features_s", "head_s", "write_s", "runs"]


def copy_people(lfw: Path, names: list[str], photos: int, dest: Path) -> Path:
    """``dest/<name>/`` with the first ``photos`` photos of each person (created once)."""
    for name in names:
        folder = dest / name
        if not folder.exists():
            folder.mkdir(parents=True)
            for photo in sorted((lfw / name).glob("*.jpg"))[:photos]:
                shutil.copy(photo, folder / photo.name)
    return dest


def timed_train(config, data: Path, model: Path, models) -> dict:
    from enroll.training import train

    load = load_average()
    start = time.perf_counter()
    result = train(config, data, model, models=models, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "people": len(result.labels), "images": result.metrics["n_images"],
            "breakdown": result.seconds, "load_average": load}


def timed_command(argv: list[str], overrides: list[str]) -> dict:
    """``face-enroll ARGV`` as a new process. ``train_s``: what ``train`` says ``train()`` took;
    ``retrain_s``/``retrain_models_s``: what ``import`` says its retrain and its model building took."""
    sets = [x for o in overrides for x in ("--set", o)]
    load = load_average()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "enroll.cli", *argv, *sets], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"face-enroll {argv[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    out = {"seconds": wall, "load_average": load}
    found = re.search(r"written to .* in ([0-9.]+) s", done.stdout)
    if found:
        out.update(train_s=float(found.group(1)), startup_s=wall - float(found.group(1)))
    found = re.search(r"retrained in ([0-9.]+) s \(models ([0-9.]+) s", done.stdout)
    if found:
        out.update(retrain_s=float(found.group(1)), retrain_models_s=float(found.group(2)))
    return out


def row(what: str, runs: list[dict]) -> dict:
    """Medians over ``runs``; the stage columns are ``train()``'s own clock (in-process runs)."""
    out = {"what": what, "people": runs[0].get("people"), "images": runs[0].get("images"),
           "seconds": median([r["seconds"] for r in runs]), "runs": len(runs)}
    if "breakdown" in runs[0]:
        for key, column in (("models", "models_s"), ("features", "features_s"), ("head", "head_s"), ("end", "write_s")):
            out[column] = median([r["breakdown"][key] for r in runs])
    return out


def measure(args, work: Path) -> tuple[list[dict], dict]:
    from enroll.training import Models
    from facecore.config import load_config
    from facecore.features import FeatureCache, settings_key

    lfw = Path(args.data)
    names = sorted(p.name for p in lfw.iterdir() if p.is_dir())
    if len(names) < max(args.people) + 1 or len(names) < args.base + 1:
        raise SystemExit(f"{lfw} has {len(names)} people; need {max(max(args.people), args.base) + 1}")
    base = load_config(None, args.overrides)
    start = time.perf_counter()
    models = Models.build(base)
    build_s = time.perf_counter() - start
    rows, raw = [], {"model_build_s": build_s}
    for n in args.people:
        runs = []
        for i in range(args.repeats):
            cache = work / f"cache-full-{n}-{i}"
            config = base.replace(train={"cache_dir": str(cache)})
            data = copy_people(lfw, names[:n], args.photos, work / f"people-{n}")
            runs.append(timed_train(config, data, work / f"model-{n}", models))
        rows.append(row(f"full, {n} people", runs))
        raw[f"full-{n}"] = runs
    # add one person to `base` enrolled: their cache is warm, the newcomer's is not
    newcomer = names[max(args.people)] if max(args.people) < len(names) else names[-1]
    cache = work / "cache-add"
    config = base.replace(train={"cache_dir": str(cache)})
    data = copy_people(lfw, names[:args.base], args.photos, work / "people-add")
    timed_train(config, data, work / "model-add", models)  # fills the cache for the enrolled ones
    copy_people(lfw, [newcomer], args.photos, data)
    key = settings_key(config, models.backbone)
    runs, commands, imports = [], [], []
    overrides = [*args.overrides, f"train.cache_dir={cache}"]
    where = ["--data", str(data), "--model", str(work / "model-add")]
    for _ in range(args.repeats):
        FeatureCache(cache, key).remove_person(newcomer)
        runs.append(timed_train(config, data, work / "model-add", models))
    for _ in range(args.repeats):
        FeatureCache(cache, key).remove_person(newcomer)
        commands.append(timed_command(["train", "--quiet", *where], overrides))
    for _ in range(args.repeats):  # through the quality gate, from the photos themselves
        FeatureCache(cache, key).remove_person(newcomer)
        shutil.rmtree(data / newcomer)
        imports.append(timed_command(["import", newcomer, str(lfw / newcomer), "--relax", *where],
                                     [*overrides, "capture.min_face_px=40"]))  # LFW faces are ~50-100 px
    rows.append(row(f"add 1 to {args.base} (in process)", runs))
    for what, results in (("face-enroll train", commands), ("face-enroll import", imports)):
        rows.append({**row(f"add 1 to {args.base} ({what})", results), "people": args.base + 1})
    raw.update({"add-one": runs, "add-one-command": commands, "add-one-import": imports, "newcomer": newcomer})
    return rows, raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(SHARED / "data" / "lfw-dev"))
    p.add_argument("--people", nargs="*", type=int, default=[10, 20, 40])
    p.add_argument("--photos", type=int, default=8, help="photos per person")
    p.add_argument("--base", type=int, default=20, help="people enrolled before one is added")
    p.add_argument("--repeats", type=int, default=3)
    args = parse_args(p, argv, "train")
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        rows, raw = measure(args, Path(tmp))
    print_table(rows, COLUMNS)
    print(f"models built once before the in-process runs: {raw['model_build_s']:.1f} s")
    for run in raw["add-one-command"]:
        print(f"face-enroll train: {run['seconds']:.1f} s wall, of which train() {run.get('train_s')} s")
    for run in raw["add-one-import"]:
        print(f"face-enroll import: {run['seconds']:.1f} s wall, of which the retrain {run.get('retrain_s')} s "
              f"(building the backbone {run.get('retrain_models_s')} s)")
    print(f"load average (1 min): {load_before} before, {load_average()} after")
    write_results(args.name, {"args": vars(args), "rows": rows, **raw,
                              "load_average_1min": [load_before, load_average()]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
