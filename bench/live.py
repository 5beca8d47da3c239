"""Whole headless ``face-live`` runs on the clips against a naive loop: speed, and the names in the CSV.

- ``face-live``: the real command (``realtime.cli.live``, headless, CSV log), run in this
  process with the models built once: detection on a downscaled frame every N frames, an
  IoU tracker in between, recognition of new tracks and then every K frames, one batched
  call per step, names decided by votes.
- ``naive``: what many tutorials do: MTCNN on every full-resolution frame (the package's
  own eager call with its defaults, ``MTCNN().detect_faces``; ``--naive-detector compiled``
  uses facecam's compiled stages instead, a stricter baseline), then one model call per
  face, each frame named on its own (no tracker, no votes). Same frames, same models,
  same overlay drawn.
- ``paced``: ``face-live`` with ``camera.pace = true``: the file plays at its own frame
  rate, like a camera, and the display must keep up with it while recognition runs behind.

- ``--cli N`` / ``--peer N``: whole processes, as a user starts them (start-up and exit
  included), taking turns: ``face-live --headless`` and the shape of face_recognition's
  webcam demo (``bench.frdemo``: quarter-size HOG every other frame, dlib encodings).
  ``--loop-clip K`` plays each clip K times over in those runs.

Correctness is judged from the CSV that each ``face-live`` run writes (and from the names
the naive loop gives): every name must be allowed for the clip and the clip's main person
must be named. People enrolled: obama, biden (``obama-biden/enroll``), alex_lacamoire and
lin_manuel_miranda (``hamilton-whitehouse/enroll``), trained into a temporary folder;
``--unknown`` photos of strangers calibrate the threshold (default: none, as a user who
only enrolls would have).

    python -m bench.live --repeats 3 --paced 3                # every clip, whole
    python -m bench.live --clips obama-biden/obama.mp4 --max-frames 150 --repeats 5 --naive-repeats 3
    python -m bench.live --clips obama-biden/obama.mp4 --max-frames 150 --repeats 0 --naive-repeats 0 \
        --paced 0 --cli 5 --peer 5                          # whole processes against the peer

Prints a table and writes JSON to ``bench/results/live.json`` (``--name``).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .common import REPO, VIDEOS, clips, load_average, looped, median, parse_args, print_table, write_results

COLUMNS = ["clip", "loop", "frames", "fps", "speedup", "first_name_s", "first_name_frame", "model_calls",
           "names", "correct", "runs"]
WHOLE_COLUMNS = ["clip", "program", "frames", "wall_s", "wall_min", "wall_max", "loop_s", "start_and_exit_s",
                 "names", "runs"]
PACED_COLUMNS = ["clip", "source_fps", "display_fps", "recognition_fps", "frames", "steps", "first_name_s",
                 "names", "correct", "runs"]
STILLS = ("obama-biden/enroll/obama", "obama-biden/enroll/biden",
          "hamilton-whitehouse/enroll/alex_lacamoire", "hamilton-whitehouse/enroll/lin_manuel_miranda")
# clip -> (names that must appear, names that may appear); any other name is wrong
EXPECTED = {
    "obama-biden/obama.mp4": ({"obama"}, {"obama"}),
    "obama-biden/biden.mp4": ({"biden"}, {"biden"}),
    # Lin-Manuel Miranda sings; Alex Lacamoire is at the piano, small; President Obama is in the audience
    "hamilton-whitehouse/short_hamilton_clip.mp4": ({"lin_manuel_miranda"},
                                                    {"lin_manuel_miranda", "alex_lacamoire", "obama"}),
    "crowd-unknown/video.mp4": (set(), set()),  # nobody enrolled
}


def enroll_stills(config, models, root: Path, unknown: str | None) -> Path:
    """Train a bundle from the clips' enrollment stills (copied into ``root``)."""
    from enroll.training import train

    for folder in STILLS:
        shutil.copytree(VIDEOS / folder, root / "people" / Path(folder).name)
    config = config.replace(train={"min_images": 1, "cache_dir": str(root / "cache")})
    return train(config, root / "people", root / "model", unknown=unknown or None, models=models, progress=False).path


def judge(clip: Path, names: set) -> dict:
    """``names`` (unknown left out) against what the clip may and must show."""
    key = clip.relative_to(VIDEOS).as_posix() if clip.is_relative_to(VIDEOS) else clip.name
    if key not in EXPECTED:
        return {"names": sorted(names), "correct": None}
    must, may = EXPECTED[key]
    wrong, missing = sorted(names - may), sorted(must - names)
    return {"names": sorted(names), "wrong": wrong, "missing": missing, "correct": not wrong and not missing}


def csv_names(path: Path) -> set:
    from facecore.faces import UNKNOWN

    with open(path, newline="", encoding="utf-8") as fh:
        return {row["name"] for row in csv.DictReader(fh)} - {UNKNOWN}


def run_live(source: Path, bundle: Path, overrides: list[str], models, log: Path, max_frames: int) -> dict:
    """One ``face-live --headless`` run in this process; ``overrides`` are its ``--set`` values."""
    from realtime.cli import live

    sets = [x for o in overrides for x in ("--set", o)]
    argv = ["--source", str(source), "--headless", "--model", str(bundle), "--log", str(log),
            "--max-frames", str(max_frames), *sets]
    load = load_average()
    report = live(argv, models=models)
    return {"frames": report.frames, "steps": report.steps, "seconds": report.seconds, "fps": report.fps,
            "first_name_s": report.first_name_s, "first_name_frame": report.first_name_frame,
            "model_calls": report.model_calls, "faces_recognized": report.faces_recognized,
            "load_average": load, **judge(source, csv_names(log))}


def run_naive(source: Path, config, recognizer, detector, max_frames: int) -> dict:
    """Detect on every full frame, one model call per face; the first frame with a name counts."""
    from facecore.camera import Camera
    from facecore.faces import UNKNOWN
    from realtime.window.overlay import Overlay

    overlay = Overlay(config.overlay)
    frames, calls, first_s, first_frame, named = 0, 0, None, None, set()
    load = load_average()
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
            overlay.annotate(frame.image, faces.with_(names=names, confidences=confs))
            named.update(n for n in names if n != UNKNOWN)
            frames += 1
            if first_s is None and named:
                first_s, first_frame = time.perf_counter() - start, frame.index
            if frames == max_frames:
                break
        seconds = time.perf_counter() - start
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "first_name_s": first_s,
            "first_name_frame": first_frame, "model_calls": calls, "faces_recognized": calls,
            "load_average": load, **judge(source, named)}


def run_paced(source: Path, bundle: Path, overrides: list[str], models, log: Path, max_frames: int) -> dict:
    """``face-live`` on the file played at its own frame rate (``camera.pace = true``)."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    capture.release()
    run = run_live(source, bundle, [*overrides, "camera.pace=true"], models, log, max_frames)
    return {**run, "source_fps": source_fps, "display_fps": run["fps"],
            "recognition_fps": run["steps"] / run["seconds"] if run["seconds"] else 0.0}


def run_cli(source: Path, bundle: Path, overrides: list[str], log: Path, max_frames: int) -> dict:
    """The whole ``face-live`` process, start-up (TensorFlow, models, warm-up) and exit included;
    its ``--report`` gives the start-up parts and the frame loop's seconds."""
    sets = [x for o in overrides for x in ("--set", o)]
    report = log.with_suffix(".json")
    command = [sys.executable, "-m", "realtime.cli", "--source", str(source), "--headless", "--model", str(bundle),
               "--log", str(log), "--max-frames", str(max_frames), "--report", str(report), *sets]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"face-live failed: {done.stderr.strip().splitlines()[-1:]}")
    figures = json.loads(report.read_text())
    return {"wall_s": wall, "frames": figures["frames"], "loop_s": figures["seconds"],
            "models_s": figures["startup"]["models_s"], "parts": figures["startup"]["parts"],
            **judge(source, csv_names(log))}


def run_peer(source: Path, people: Path, max_frames: int) -> dict:
    """The whole process of face_recognition's webcam-demo shape (``bench.frdemo``) on ``source``."""
    command = [sys.executable, "-m", "bench.frdemo", "--source", str(source), "--people", str(people),
               "--max-frames", str(max_frames)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the face_recognition demo failed: {done.stderr.strip().splitlines()[-1:]}")
    line = done.stdout.strip().splitlines()[-1]
    names = set(line.rsplit("names: ", 1)[1].split(",")) - {"-"}
    return {"wall_s": wall, "frames": int(line.split()[0]), "loop_s": float(line.split()[3]), **judge(source, names)}


def has_peer() -> bool:
    """Whether face_recognition (and its models) can be imported here."""
    return importlib.util.find_spec("face_recognition") is not None


def summarize_whole(clip: str, runs: dict) -> list[dict]:
    """One row per program of the whole-process runs: median, min and max wall seconds."""
    rows = []
    for program, key in (("face-live", "cli"), ("face_recognition demo", "peer")):
        done = runs.get(key) or []
        if done:
            walls = [r["wall_s"] for r in done]
            rows.append({"clip": clip, "program": program, "frames": done[0]["frames"], "wall_s": median(walls),
                         "wall_min": min(walls), "wall_max": max(walls),
                         "loop_s": median([r["loop_s"] for r in done]),
                         "start_and_exit_s": median([r["wall_s"] - r["loop_s"] for r in done]),
                         "names": ",".join(done[0]["names"]) or "-", "runs": len(done)})
    return rows


def _first(runs: list[dict], key: str):
    named = [r[key] for r in runs if r[key] is not None]
    return median(named) if named else None


def summarize(clip: str, results: dict) -> list[dict]:
    """One row per loop: medians over its runs; ``speedup``: the median over the repeats that ran both
    loops of face-live fps / naive fps, each ratio from one repeat."""
    rows = []
    ratios = [a["fps"] / b["fps"] for a, b in zip(results["face-live"], results["naive"])]
    for name in ("face-live", "naive"):
        runs = results[name]
        if not runs:
            continue
        rows.append({
            "clip": clip, "loop": name, "frames": runs[0]["frames"], "fps": median([r["fps"] for r in runs]),
            "speedup": median(ratios) if name == "face-live" and ratios else None,
            "first_name_s": _first(runs, "first_name_s"), "first_name_frame": _first(runs, "first_name_frame"),
            "model_calls": runs[0]["model_calls"], "names": ",".join(runs[0]["names"]) or "-",
            "correct": all(r["correct"] for r in runs) if runs[0]["correct"] is not None else None,
            "runs": len(runs),
        })
    return rows


def summarize_paced(clip: str, runs: list[dict]) -> dict:
    return {"clip": clip, "source_fps": runs[0]["source_fps"], "display_fps": median([r["display_fps"] for r in runs]),
            "recognition_fps": median([r["recognition_fps"] for r in runs]),
            "frames": median([r["frames"] for r in runs]),
            "steps": median([r["steps"] for r in runs]), "first_name_s": _first(runs, "first_name_s"),
            "names": ",".join(runs[0]["names"]) or "-", "correct": all(r["correct"] for r in runs), "runs": len(runs)}


def naive_detector(kind: str, config):
    """Full-frame MTCNN: ``plain`` is ``MTCNN().detect_faces`` with the package's defaults (eager,
    no downscaling, no extra score cut); ``compiled`` adds facecam's compiled stages."""
    from facecore.detector import Detector

    full = replace(config.detector, max_side=100_000, min_score=0.0, compiled=kind == "compiled",
                   threshold_pnet=0.6, threshold_rnet=0.7, threshold_onet=0.8, min_face_size=20)
    return Detector(full)


def measure(args) -> dict:
    """Build the models once, then run every clip: face-live, naive, paced, and the whole CLI."""
    from facecore.models import Models
    from facecore.bundle import load_bundle
    from facecore.config import load_config
    from facecore.recognizer import Recognizer

    config = load_config(None, args.overrides)
    start = time.perf_counter()
    models = Models.build(config)
    out = {"model_build_s": time.perf_counter() - start, "clips": {}}
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        bundle = Path(args.model) if args.model else enroll_stills(config, models, Path(tmp), args.unknown)
        recognizer = Recognizer.from_bundle(load_bundle(bundle), config, backbone=models.backbone)
        naive = naive_detector(args.naive_detector, config)
        recognizer.backbone.warm_up()
        for number, clip in enumerate(clips(args.clips)):
            name = str(clip.relative_to(VIDEOS))
            runs = out["clips"][name] = {"face-live": [], "naive": [], "paced": [], "cli": [], "peer": []}
            logs = Path(tmp) / f"logs-{number}"  # face-live appends to its CSV: one new file per run
            logs.mkdir()
            for i in range(args.repeats):
                log = logs / f"live-{i}.csv"
                runs["face-live"].append(run_live(clip, bundle, args.overrides, models, log, args.max_frames))
                if i < args.naive_repeats:
                    runs["naive"].append(run_naive(clip, config, recognizer, naive, args.max_frames))
            for i in range(args.paced):
                log = logs / f"paced-{i}.csv"
                runs["paced"].append(run_paced(clip, bundle, args.overrides, models, log, args.max_frames))
            source = looped(clip, Path(tmp) / clip.name, times=args.loop_clip) if args.loop_clip > 1 else clip
            people = Path(tmp) / "people" if not args.model else None
            for i in range(max(args.cli, args.peer)):  # whole processes, taking turns
                if i < args.cli:
                    runs["cli"].append(run_cli(source, bundle, args.overrides, logs / f"cli-{i}.csv", args.max_frames))
                if i < args.peer and people is not None:
                    runs["peer"].append(run_peer(source, people, args.max_frames))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="*", metavar="CLIP", help="clips under ../shared/data/videos (default: all)")
    p.add_argument("--max-frames", type=int, default=0, help="frames per run (default 0: the whole clip)")
    p.add_argument("--repeats", type=int, default=3, help="face-live runs per clip")
    p.add_argument("--naive-repeats", type=int, default=1, help="naive runs per clip (each beside a face-live run)")
    p.add_argument("--naive-detector", choices=("plain", "compiled"), default="plain")
    p.add_argument("--paced", type=int, default=1, metavar="N", help="paced face-live runs per clip")
    p.add_argument("--cli", type=int, default=0, metavar="N", help="also time N whole face-live processes per clip")
    p.add_argument("--peer", type=int, default=0, metavar="N",
                   help="also time N whole processes of face_recognition's webcam-demo shape (bench.frdemo), "
                        "taking turns with --cli (needs face_recognition installed)")
    p.add_argument("--loop-clip", type=int, default=1, metavar="K",
                   help="whole-process runs read each clip played K times over (600 frames of biden.mp4: K=3)")
    p.add_argument("--model", help="bundle to use (default: one trained from the clips' stills, in a temp folder)")
    p.add_argument("--unknown", default="", help="photos of strangers to calibrate the threshold with (default: none)")
    args = parse_args(p, argv, "live")
    if args.peer and not has_peer():
        raise SystemExit("--peer needs face_recognition: pip install dlib-bin face-recognition-models, "
                         "then pip install --no-deps face-recognition")
    load_before = load_average()
    out = measure(args)
    rows = [row for clip, runs in out["clips"].items() for row in summarize(clip, runs)]
    paced = [summarize_paced(clip, runs["paced"]) for clip, runs in out["clips"].items() if runs["paced"]]
    print_table(rows, COLUMNS)
    if paced:
        print()
        print_table(paced, PACED_COLUMNS)
    whole = [row for clip, runs in out["clips"].items() for row in summarize_whole(clip, runs)]
    if whole:
        print()
        print_table(whole, WHOLE_COLUMNS)
    for clip, runs in out["clips"].items():
        for run in runs["cli"]:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in run["parts"].items())
            print(f"{clip}: face-live {run['wall_s']:.2f} s whole: models ready after {run['models_s']:.2f} s "
                  f"({parts}), loop {run['loop_s']:.2f} s")
    print(f"load average (1 min): {load_before} before, {load_average()} after")
    write_results(args.name, {"args": vars(args), "load_average_1min": [load_before, load_average()],
                              "summary": rows, "paced": paced, "whole": whole, **out})
    return 0


if __name__ == "__main__":
    sys.exit(main())
