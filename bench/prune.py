"""The daily prune against recognition: ``python -m bench.prune``.

Four sources (``--sources``) run through the local engine on the fake models of
``tests/fakes.py`` (coloured squares for faces; ``--model-ms`` adds that many milliseconds per
detection outside the interpreter, as a real model's native code would take), each with two
people in view, a row per person per ``--cooldown`` seconds of source time (1; 10 steps a
second) and their faces kept. The face store starts with ``--faces`` kept faces (10,000:
``faces.max_faces``' default), a tenth of them past retention, and a CSV log with a row for each.

Each way of writing runs ``--rounds`` rounds of two phases of ``--steps`` steps, alternated so
that the shared machine's load falls on both alike, and takes each step's time (the engine step
and the events of every source, as the recognition thread does them):

1. ``writer``: events go to :class:`realtime.events.writer.Writer` (the writer's own thread);
   ``base``: no prune; ``prune``: the retention rules are applied again as soon as the last
   prune has ended (it runs in a child process while the writer goes on), so that most steps
   run beside one;
2. ``inline``: the same with :class:`realtime.events.records.EventLog` applied on the recognition thread
   (how face-live wrote before), a prune every 50 steps (2 % of the steps: the p99 sees them).

Reported per phase: the steps that overlapped a prune (``beside``), median, 99th percentile and
worst step in ms, the prunes and their median length, the deepest the writer's queue got.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from facecore.config import FacesConfig, LogConfig, load_config
from facecore.csvlog import CsvLog
from facecore.facestore import FaceStore, StoredFace, new_face_id
from facecore.images import encode_jpeg
from realtime.engine.step import Engine
from realtime.events.records import EventLog
from realtime.events.keeper import KeepRules
from realtime.engine.pipeline import SourceStage
from realtime.events.writer import Writer

from .common import REPO, load_average, median, print_table, write_results

SQUARES = (("ada", 30, 40, 60), ("grace", 170, 60, 50))


def fill(folder: Path, faces: int, csv_path: Path) -> None:
    """``faces`` kept faces in ``folder`` (one in ten past retention), a CSV row for each."""
    store, now, jpeg = FaceStore(folder), datetime.now(timezone.utc), encode_jpeg(np.full((40, 40, 3), 90, np.uint8))
    with CsvLog(csv_path) as log:
        for i in range(faces):
            when = now - timedelta(days=40 if i % 10 == 0 else 1, seconds=faces - i)
            face = StoredFace(new_face_id(when), when.isoformat(timespec="milliseconds"), "door", i, i, "ada", 0.9,
                              (10.0, 10.0, 50.0, 50.0), {}, np.ones(128, np.float32) / np.sqrt(128), "facenet")
            path = store.add(face, jpeg)
            log.append({"time": face.time, "name": "ada", "confidence": 0.9, "track": i, "frame": i,
                        "source_time": 0.0, "x1": 10, "y1": 10, "x2": 50, "y2": 50, "source": "door",
                        "snapshot": str(path)})


def engine(sources: int, model_ms: float):
    """The engine on the fake models, and one frame per source that it steps on."""
    sys.path.insert(0, str(REPO / "tests"))
    from fakes import ColourDetector, ColourRecognizer, scene  # the tests' fakes: no TensorFlow

    class Detector(ColourDetector):
        def detect(self, frame):
            time.sleep(model_ms / 1000.0)  # a model's native code: the interpreter is free meanwhile
            return super().detect(frame)

    config = load_config(None, ["detector.every_n_frames=1", "tracker.recognize_every=1"])
    detector = Detector(config.detector)
    names = [f"cam{i}" for i in range(sources)]
    stages = [SourceStage(name, config, detector, True) for name in names]
    return Engine(stages, detector, ColourRecognizer(["ada", "grace"])), {name: scene(list(SQUARES)) for name in names}


def phase(events, eng: Engine, images: dict, steps: int, start: int, every: int | None) -> dict:
    """``steps`` steps from frame ``start``. ``every``: ``None``, no prune; ``0``, a prune again as soon
    as the last one has ended; ``k``, a prune every ``k`` steps. Returns the
    step times in ms, the prunes' lengths in ms, and how many steps overlapped a prune."""
    from facecore.camera import Frame

    writer = events if isinstance(events, Writer) else None
    log = writer.events if writer is not None else events
    spans, original = [], log._prune  # [start, end, pending prune] of each prune, perf_counter seconds

    def timed() -> None:
        begin = time.perf_counter()
        original()
        spans.append([begin, time.perf_counter(), log.pruning])  # the writer's prune runs on in its process
        log._next_prune = float("inf")

    log._prune, log._next_prune = timed, float("inf")
    steps_at = []
    for i in range(start, start + steps):
        if every is not None and ((every == 0 and log.pruning is None) or (every and (i - start) % every == 0)):
            log._next_prune = 0.0  # the next events applied prune first
        begin = time.perf_counter()
        frames = {name: Frame(i, image, i / 10.0) for name, image in images.items()}
        for name, snapshot in eng.step(frames).items():
            events.record(snapshot, frames[name].image)
        steps_at.append((begin, time.perf_counter()))
    if writer is not None:
        writer.flush()
        while log.pruning is not None:  # the next phase starts with no prune running
            time.sleep(0.05)
    log._prune = original
    spans = [(s, pending.ended if pending is not None else e) for s, e, pending in spans]
    beside = sum(any(a < e and s < b for s, e in spans) for a, b in steps_at)
    return {"times": [(b - a) * 1000.0 for a, b in steps_at], "prunes": [(e - s) * 1000.0 for s, e in spans],
            "beside": beside}


def run(how: str, args, work: Path) -> list[dict]:
    """``args.rounds`` rounds of ``args.steps`` steps without a prune, then as many beside prunes
    (alternated, so that the shared machine's load falls on both alike)."""
    folder, csv_path = work / how / "faces", work / how / "rec.csv"
    fill(folder, args.faces, csv_path)
    keep = KeepRules(FacesConfig(folder=str(folder), max_faces=args.faces + 10 * args.steps * args.rounds,
                                 retention_days=30))
    log = EventLog(CsvLog(csv_path), LogConfig(cooldown_s=args.cooldown), str(folder), keep=keep)
    events = Writer(log) if how == "writer" else log
    eng, images = engine(args.sources, args.model_ms)
    phase(events, eng, images, 20, 0, None)  # warm: the tracks are named, rows flow
    # beside the writer, a prune again once it has caught up; inline, one every 50 steps (2 % of the
    # steps: the p99 sees them)
    done = {"base": [], "prune": []}
    for r in range(args.rounds):
        for i, (name, every) in enumerate((("base", None), ("prune", 0 if how == "writer" else 50))):
            done[name].append(phase(events, eng, images, args.steps, 20 + (2 * r + i) * args.steps, every))
    events.close()
    rows = []
    for name, parts in done.items():
        times = [t for p in parts for t in p["times"]]
        prunes = [t for p in parts for t in p["prunes"]]
        rows.append({"how": how, "phase": name, "steps": len(times), "beside": sum(p["beside"] for p in parts),
                     "median_ms": median(times), "p99_ms": float(np.percentile(times, 99)), "max_ms": max(times),
                     "prunes": len(prunes), "prune_ms": median(prunes) if prunes else None,
                     "deepest": getattr(events, "deepest", None)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=10_000, help="kept faces in the store at the start")
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--steps", type=int, default=100, help="steps per phase and round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of the two phases, alternated")
    parser.add_argument("--cooldown", type=float, default=1.0,
                        help="log.cooldown_s (source seconds; 10 steps a second)")
    parser.add_argument("--model-ms", type=float, default=20.0, help="ms per detection outside the interpreter")
    parser.add_argument("--name", default="prune", help="name of the JSON result file")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="facecam-prune-"))
    try:
        rows = [row for how in ("writer", "inline") for row in run(how, args, work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    writer = {r["phase"]: r["p99_ms"] for r in rows if r["how"] == "writer"}
    rise = writer["prune"] / writer["base"] - 1.0
    print_table(rows, ["how", "phase", "steps", "beside", "median_ms", "p99_ms", "max_ms", "prunes", "prune_ms",
                       "deepest"])
    print(f"writer: a prune beside the steps raises the p99 step time by {rise:+.1%} (load {load_average()})")
    write_results(args.name, {"args": vars(args), "rows": rows, "p99_rise": rise, "load": load_average()})


if __name__ == "__main__":
    main()
