"""The live loop against a naive one, on a real clip: frames per second and time to the first name.

- ``face-live``: the real command (``realtime.cli.live``, headless, CSV log), run in this
  process with models built once: detection on a downscaled frame every N frames, an
  IoU tracker in between, recognition of new tracks and then every K frames, one
  batched call per step, names decided by votes.
- ``naive``: what many tutorials do: MTCNN on every full-resolution frame, then one
  model call per face, each frame named on its own (no tracker, no votes).

Both read the same clip with the same models and draw the same overlay. Optionally
(``--cli``) the whole ``python -m realtime.cli`` process is timed too, start-up included.
The facenet backbone from ``../shared/models`` is used unless ``--set backbone.*`` says otherwise.

    python -m bench.naive_live --repeats 3 --cli 2

Prints a table and writes JSON to ``bench/results/naive_live.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .common import FACENET_H5, REPO, SHARED, median, print_table, write_results

VIDEOS = SHARED / "data" / "videos"
COLUMNS = ["loop", "frames", "fps", "first_name_s", "first_name_frame", "model_calls", "runs"]
STILLS = ("obama-biden/enroll/obama", "obama-biden/enroll/biden",
          "hamilton-whitehouse/enroll/alex_lacamoire", "hamilton-whitehouse/enroll/lin_manuel_miranda")


def enroll_stills(config, models, root: Path) -> Path:
    """Train a bundle from the clips' enrollment stills (copied into ``root``)."""
    import shutil

    from enroll.training import train

    for folder in STILLS:
        shutil.copytree(VIDEOS / folder, root / "people" / Path(folder).name)
    config = config.replace(train={"min_images": 1, "cache_dir": str(root / "cache")})
    return train(config, root / "people", root / "model", models=models, progress=False).path


def run_live(source: Path, bundle: Path, overrides: list[str], models, log: Path) -> dict:
    from realtime.cli import live

    sets = [x for o in overrides for x in ("--set", o)]
    report = live(["--source", str(source), "--headless", "--model", str(bundle), "--log", str(log), *sets],
                  prebuilt=models)
    return {"frames": report.frames, "seconds": report.seconds, "fps": report.fps,
            "first_name_s": report.first_name_s, "first_name_frame": report.first_name_frame,
            "model_calls": report.model_calls, "faces_recognized": report.faces_recognized}


def run_naive(source: Path, config, recognizer, detector) -> dict:
    """MTCNN on every full frame, one model call per face; the first frame with a name counts."""
    from facecore.camera import Camera
    from facecore.faces import UNKNOWN
    from realtime.overlay import Overlay

    overlay = Overlay(config.overlay)
    frames, calls, first_s, first_frame = 0, 0, None, None
    with Camera(str(source)) as camera:
        start = time.perf_counter()
        for frame in camera:
            faces = detector.detect(frame.image)
            names, confs = [], []
            for i in range(len(faces)):
                decision = recognizer.recognize_crops(recognizer.crops(frame.image, faces[[i]]))
                names.append(decision.names[0])
                confs.append(decision.confidences[0])
                calls += 1
            faces = faces.with_(names=names, confidences=confs)
            overlay.annotate(frame.image, faces)
            frames += 1
            if first_s is None and any(n != UNKNOWN for n in names):
                first_s, first_frame = time.perf_counter() - start, frame.index
        seconds = time.perf_counter() - start
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "first_name_s": first_s,
            "first_name_frame": first_frame, "model_calls": calls, "faces_recognized": calls}


def run_cli(source: Path, bundle: Path, overrides: list[str], log: Path) -> dict:
    """The whole ``face-live`` process, start-up (TensorFlow, models, warm-up) included."""
    sets = [x for o in overrides for x in ("--set", o)]
    command = [sys.executable, "-m", "realtime.cli", "--source", str(source), "--headless", "--model", str(bundle),
               "--log", str(log), *sets]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"face-live failed: {done.stderr.strip().splitlines()[-1:]}")
    return {"wall_s": wall, "summary": done.stderr.strip().splitlines()[-1]}


def summarize(results: dict) -> list[dict]:
    """One row per loop: medians over its runs (``first_name_*``: over the runs that named someone)."""
    rows = []
    for name in ("face-live", "naive"):
        runs = results[name]
        named = [r for r in runs if r["first_name_s"] is not None]
        rows.append({
            "loop": name, "frames": runs[0]["frames"], "fps": median([r["fps"] for r in runs]),
            "first_name_s": median([r["first_name_s"] for r in named]) if named else None,
            "first_name_frame": median([r["first_name_frame"] for r in named]) if named else None,
            "model_calls": runs[0]["model_calls"], "runs": len(runs),
        })
    return rows


def measure(args) -> tuple[dict, float]:
    """Build the models once, then time each loop ``args.repeats`` times (and the CLI ``args.cli`` times)."""
    from enroll.training import Models
    from facecore.bundle import load_bundle
    from facecore.config import load_config
    from facecore.detector import Detector
    from facecore.recognizer import Recognizer

    config = load_config(None, args.overrides)
    start = time.perf_counter()
    models = Models.build(config)
    build_s = time.perf_counter() - start
    source = Path(args.source)
    with tempfile.TemporaryDirectory(prefix="naive-live-") as tmp:
        bundle = Path(args.model) if args.model else enroll_stills(config, models, Path(tmp))
        recognizer = Recognizer.from_bundle(load_bundle(bundle), config, backbone=models.backbone)
        full_frame = Detector(replace(config.detector, max_side=100_000))  # no downscaling
        recognizer.backbone.warm_up()
        results = {"face-live": [], "naive": [], "cli": []}
        for i in range(args.repeats):
            log = Path(tmp) / f"live-{i}.csv"
            results["face-live"].append(run_live(source, bundle, args.overrides, models, log))
            results["naive"].append(run_naive(source, config, recognizer, full_frame))
        for i in range(args.cli):
            results["cli"].append(run_cli(source, bundle, args.overrides, Path(tmp) / f"cli-{i}.csv"))
    return results, build_s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.naive_live", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=str(VIDEOS / "obama-biden" / "obama.mp4"))
    p.add_argument("--model", help="bundle to use (default: one trained from the clips' stills, in a temp folder)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--cli", type=int, default=0, metavar="N", help="also time N whole face-live processes")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    if not any(o.startswith("backbone.") for o in args.overrides):
        args.overrides += ["backbone.name=facenet", f"backbone.weights={FACENET_H5}"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load_before = os.getloadavg()[0]
    results, build_s = measure(args)
    rows = summarize(results)
    print_table(rows, COLUMNS)
    for run in results["cli"]:
        print(f"whole process: {run['wall_s']:.1f} s wall; {run['summary']}")
    write_results("naive_live", {"source": args.source, "overrides": args.overrides, "model_build_s": build_s,
                                 "load_average_1min": [load_before, os.getloadavg()[0]], "summary": rows, **results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
