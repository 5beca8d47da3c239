"""Face detection: the naive MTCNN call against facecam's detector, on every clip.

- ``naive``: ``MTCNN().detect_faces(frame)`` on the full frame: the package's own eager
  call with its defaults, as most examples use it.
- ``facecam``: ``Detector(config.detector)``: MTCNN on a copy downscaled to
  ``detector.max_side``, its three networks compiled once, detections below
  ``detector.min_score`` dropped.

For each clip, ``--frames`` frames spread over it are detected by both (alternating, so
both see the same load), ``--repeats`` times; each call's first use of the clip's frame
size is not timed. ``found`` is the share of the naive detections that facecam also finds
(greedy one-to-one matching, IoU >= 0.5): over all of them, and over those that are at least
``detector.min_face_size`` pixels (the box's longer side) after facecam's downscale, the
faces facecam is configured to look for; ``found_sure`` counts only those of them that the
naive call itself scored at least ``detector.min_score``.

``--retrace``: the cost of new input sizes. The ``mtcnn`` package runs its networks
eagerly; wrapped in ``tf.function`` they are ~3x faster but are traced again for new
input shapes (a known issue of that package). Each variant meets a sequence of new image
sizes (frames and photos as the detector sees them); the first call on each size and the
steady state are timed, and the graphs' traces counted.

    python -m bench.detect --frames 10 --repeats 3 --retrace

Prints tables and writes JSON to ``bench/results/detect.json`` (``--name``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

import cv2
import numpy as np

from .common import VIDEOS, clips, load_average, median, parse_args, print_table, write_results

COLUMNS = ["clip", "size", "frames", "naive_ms", "facecam_ms", "cheaper", "naive_faces", "facecam_faces",
           "found_all", "eligible", "found_eligible", "found_sure", "runs"]
RETRACE_COLUMNS = ["variant", "sizes", "first_call_ms", "steady_ms", "extra_first_s", "traces"]
# image sizes (h, w) as MTCNN receives them: 16:9 and 4:3 frames after facecam's downscale,
# an LFW photo, a portrait photo, a small still
RETRACE_SIZES = [(270, 480), (360, 480), (250, 250), (480, 320), (300, 400)]


def sample_frames(clip, count: int) -> list[np.ndarray]:
    """``count`` RGB frames spread evenly over ``clip``; only those are kept in memory when the
    clip declares its frame count (a 1080p clip held whole is hundreds of MB)."""
    from facecore.camera import Camera

    capture = cv2.VideoCapture(str(clip))
    declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    capture.release()
    frames, wanted = [], None
    if declared > 0:
        wanted = set(np.linspace(0, declared - 1, min(count, declared)).round().astype(int).tolist())
    with Camera(str(clip)) as camera:
        frames = [frame.image for i, frame in enumerate(camera) if wanted is None or i in wanted]
    if wanted is not None and len(frames) == len(wanted):
        return frames
    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    return [frames[i] for i in picks]


def naive_boxes(mtcnn, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 4)`` ``x1, y1, x2, y2`` boxes of ``MTCNN().detect_faces`` (which gives ``x, y, w, h``),
    and their ``(n,)`` confidences."""
    found = mtcnn.detect_faces(frame)
    boxes = np.array([f["box"] for f in found], np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return boxes, np.array([f["confidence"] for f in found], np.float32)


def compare_clip(clip, mtcnn, detector, args) -> tuple[dict, dict]:
    """Time both detectors on the clip's frames; match their faces on the first repeat."""
    from realtime.engine.tracker import match_boxes

    frames = sample_frames(clip, args.frames)
    naive_boxes(mtcnn, frames[0]), detector.detect(frames[0])  # first use of this frame size: not timed
    times = {"naive": [], "facecam": []}
    naive, ours = [], []
    for repeat in range(args.repeats):
        spent = {"naive": 0.0, "facecam": 0.0}
        for frame in frames:
            start = time.perf_counter()
            boxes, confidences = naive_boxes(mtcnn, frame)
            spent["naive"] += time.perf_counter() - start
            start = time.perf_counter()
            faces = detector.detect(frame)
            spent["facecam"] += time.perf_counter() - start
            if repeat == 0:
                naive.append((boxes, confidences))
                ours.append(faces.boxes)
        for key, value in spent.items():
            times[key].append(1000.0 * value / len(frames))
    h, w = frames[0].shape[:2]
    scale = min(1.0, detector.config.max_side / max(h, w))
    count = {"found": 0, "eligible": 0, "found_eligible": 0, "sure": 0, "found_sure": 0}
    for (boxes, confidences), mine in zip(naive, ours):
        matched = {d for d, _ in match_boxes(boxes, mine, 0.5)}
        big = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * scale >= detector.config.min_face_size
        sure = big & (confidences >= detector.config.min_score)
        count["found"] += len(matched)
        count["eligible"] += int(big.sum())
        count["found_eligible"] += sum(1 for d in matched if big[d])
        count["sure"] += int(sure.sum())
        count["found_sure"] += sum(1 for d in matched if sure[d])
    n_naive = sum(len(b) for b, _ in naive)
    ratios = [a / b for a, b in zip(times["naive"], times["facecam"])]
    row = {
        "clip": str(clip.relative_to(VIDEOS)), "size": f"{w}x{h}", "frames": len(frames),
        "naive_ms": median(times["naive"]), "facecam_ms": median(times["facecam"]), "cheaper": median(ratios),
        "facecam_faces": sum(len(b) for b in ours), **_shares(count, n_naive), "runs": args.repeats,
    }
    return row, {"times_ms": times, "ratios": ratios, "counts": count, "load_average": load_average()}


def _shares(count: dict, n_naive: int) -> dict:
    def share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    return {"naive_faces": n_naive, "found_all": share(count["found"], n_naive), "eligible": count["eligible"],
            "found_eligible": share(count["found_eligible"], count["eligible"]),
            "found_sure": share(count["found_sure"], count["sure"])}


def pooled(rows: list[dict], details: dict) -> dict:
    """All clips together: faces counted over every clip; ``cheaper``: the median clip's."""
    total = {k: sum(d["counts"][k] for d in details.values()) for k in details[rows[0]["clip"]]["counts"]}
    return {"clip": "all clips", "frames": sum(r["frames"] for r in rows),
            "cheaper": median([r["cheaper"] for r in rows]), "facecam_faces": sum(r["facecam_faces"] for r in rows),
            "runs": rows[0]["runs"],
            **_shares(total, sum(r["naive_faces"] for r in rows))}


def _variants(config):
    """name -> (detect(image), traces()) for a fresh detector of each kind."""
    from dataclasses import replace

    from mtcnn import MTCNN

    from facecore.detector import Detector
    from facecore.mtcnn_stages import build_stages, trace_counts

    def wrapped(tracing: str):
        mtcnn = build_stages(tracing, pixels=False)  # the package's networks, traced as the package would be
        return (lambda image: mtcnn.detect_faces(image), lambda: trace_counts(mtcnn))

    plain = MTCNN()
    full = replace(config.detector, max_side=100_000)  # the sizes below reach MTCNN as they are
    ours = Detector(full)
    return {
        "eager (the package)": (lambda image: plain.detect_faces(image), lambda: None),
        "tf.function": wrapped("calls"),
        "tf.function reduce_retracing": wrapped("calls-reduced"),
        "facecam (fixed signature)": (ours.detect, ours.trace_counts),
    }


def retrace(config, frame: np.ndarray, steady_calls: int = 3) -> list[dict]:
    """First call vs steady state on each new image size, for each way of running MTCNN."""
    images = [cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA) for h, w in RETRACE_SIZES]
    rows = []
    for name, (detect, traces) in _variants(config).items():
        first, steady = [], []
        for image in images:
            start = time.perf_counter()
            detect(image)
            first.append(time.perf_counter() - start)
            calls = []
            for _ in range(steady_calls):
                start = time.perf_counter()
                detect(image)
                calls.append(time.perf_counter() - start)
            steady.append(median(calls))
        count = traces()
        rows.append({
            "variant": name, "sizes": len(images), "first_call_ms": 1000 * median(first),
            "steady_ms": 1000 * median(steady), "extra_first_s": sum(f - s for f, s in zip(first, steady)),
            "traces": "-" if count is None else "/".join(map(str, count)),
            "per_size_first_ms": [round(1000 * f, 1) for f in first],
            "per_size_steady_ms": [round(1000 * s, 1) for s in steady],
        })
    return rows


def clip_arguments(prog: str, doc: str) -> argparse.ArgumentParser:
    """A parser with the options of the detection benchmarks: ``--clips``, ``--frames``, ``--repeats``."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    p.add_argument("--clips", nargs="*", metavar="CLIP", help="clips under ../shared/data/videos (default: all)")
    p.add_argument("--frames", type=int, default=10, help="frames per clip, spread over it")
    p.add_argument("--repeats", type=int, default=3)
    return p


def main(argv: list[str] | None = None) -> int:
    p = clip_arguments("python -m bench.detect", __doc__)
    p.add_argument("--retrace", action="store_true", help="also measure the cost of new input sizes")
    args = parse_args(p, argv, "detect", facenet=False)
    from mtcnn import MTCNN

    from facecore.config import load_config
    from facecore.detector import Detector

    config = load_config(None, args.overrides)
    load_before = load_average()
    mtcnn, detector = MTCNN(), Detector(config.detector)
    rows, details = [], {}
    for clip in clips(args.clips):
        row, detail = compare_clip(clip, mtcnn, detector, args)
        rows.append(row)
        details[row["clip"]] = detail
    rows.append(pooled(rows, details))
    print_table(rows, COLUMNS)
    retrace_rows = []
    if args.retrace:
        portrait = VIDEOS / "obama-biden" / "obama.mp4"  # one face, so every stage runs
        retrace_rows = retrace(config, sample_frames(portrait if portrait.exists() else clips(args.clips)[0], 1)[0])
        print()
        print_table(retrace_rows, RETRACE_COLUMNS)
    print(f"load average (1 min): {load_before} before, {load_average()} after")
    write_results(args.name, {"args": vars(args), "detector": asdict(config.detector), "rows": rows,
                              "details": details, "retrace": retrace_rows,
                              "load_average_1min": [load_before, load_average()]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
