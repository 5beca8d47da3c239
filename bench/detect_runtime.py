"""Face detection under both runtimes: the mtcnn package on TensorFlow (``Detector``) against
MTCNN on LiteRT (``LiteDetector``: the converted networks inside facecam's NumPy pipeline).

- ``speed``: ``--frames`` frames spread over each clip, resized to ``--size`` (640x480 by
  default: a webcam's frame), detected by every variant in turn, ``--repeats`` times; the
  first call of each variant is not timed. ``ms`` is the median over repeats of the mean time
  per frame; ``vs_tensorflow`` the median over repeats of TensorFlow's time over the variant's
  (both timed in the same repeat, under the same load). Variants: TensorFlow; LiteRT on each
  of ``--threads``; LiteRT on 1 thread with one PNet interpreter resized at every pyramid level
  (instead of one per level size).
- ``agreement``: the clips' frames at their own size and every ``--lfw-every``-th LFW photo,
  detected by both with the default configuration; faces matched one-to-one (IoU >= 0.5);
  the smallest IoU of a matched pair and the largest distance between matched landmarks.
- ``pnet interpreter``: what a new image size costs PNet on LiteRT: making an interpreter, its
  first call, a call that resizes it, a steady call.
- ``process``: a fresh process imports facecam, builds the detector (LiteRT: from the cache)
  and detects one frame: its wall time to the first faces and its peak RSS (``VmHWM``: the
  ``ru_maxrss`` of a child started by a large parent reports the parent's).

    python -m bench.detect_runtime --frames 10 --repeats 3 --threads 1 2

Prints tables and writes JSON to ``bench/results/detect_runtime.json`` (``--name``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from .common import REPO, SHARED, clips, load_average, median, parse_args, print_table, write_results
from .detect import clip_arguments, sample_frames

SPEED_COLUMNS = ["variant", "size", "frames", "ms", "vs_tensorflow", "faces", "runs"]
AGREE_COLUMNS = ["set", "images", "tf_faces", "litert_faces", "matched", "min_iou", "max_landmark_px"]
INTERPRETER_COLUMNS = ["make_ms", "first_call_ms", "resizing_call_ms", "steady_call_ms", "runs"]
PROCESS_COLUMNS = ["runtime", "ready_s", "peak_rss_mb", "tensorflow_imported", "runs"]

SINGLE = "litert, 1 thread, one PNet interpreter"
PROCESS = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from facecore.config import DetectorConfig
from facecore.detector import build_detector
detector = build_detector(DetectorConfig(), sys.argv[1])
if sys.argv[3] == "single":
    from bench.detect_runtime import one_pnet_interpreter
    one_pnet_interpreter(detector)
faces = detector.detect(np.load(sys.argv[2]))
print(json.dumps({"ready_s": time.perf_counter() - start, "faces": len(faces),
                  "peak_rss_mb": next(int(line.split()[1]) for line in open("/proc/self/status")
                                      if line.startswith("VmHWM:")) / 1024,
                  "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def lite_name(threads: int) -> str:
    return f"litert, {threads} thread{'s' if threads > 1 else ''}"


def variants(config, threads: list[int]) -> dict:
    """name -> detector, for the speed table."""
    from facecore.detector import Detector
    from facecore.litert.mtcnn import LiteDetector

    found = {"tensorflow": Detector(config.detector)}
    for n in threads:
        found[lite_name(n)] = LiteDetector(config.detector, threads=n)
    found[SINGLE] = one_pnet_interpreter(LiteDetector(config.detector, threads=1))
    return found


def one_pnet_interpreter(detector):
    """``detector`` (a ``LiteDetector``) with one PNet interpreter, resized at every pyramid level."""
    from facecore.litert.runner import Runner

    nets = detector._nets
    detector._nets = type(nets)(Runner(nets.pnet.path, 1), nets.rnet, nets.onet)
    return detector


def speed(detectors: dict, frames: list[np.ndarray], repeats: int) -> list[dict]:
    """Per-frame time of each detector on ``frames`` (alternating, so all see the same load)."""
    for detector in detectors.values():
        detector.detect(frames[0])  # first call: not timed
    times = {name: [] for name in detectors}
    faces = {name: 0 for name in detectors}
    for repeat in range(repeats):
        spent = dict.fromkeys(detectors, 0.0)
        for frame in frames:
            for name, detector in detectors.items():
                start = time.perf_counter()
                found = detector.detect(frame)
                spent[name] += time.perf_counter() - start
                faces[name] += len(found) if repeat == 0 else 0
        for name, value in spent.items():
            times[name].append(1000.0 * value / len(frames))
    h, w = frames[0].shape[:2]
    base = times["tensorflow"]
    return [{"variant": name, "size": f"{w}x{h}", "frames": len(frames), "ms": median(t),
             "vs_tensorflow": median([b / x for b, x in zip(base, t)]), "faces": faces[name], "runs": repeats,
             "times_ms": t} for name, t in times.items()]


def agreement(name: str, images: list[np.ndarray], theirs, ours) -> dict:
    """How far ``ours`` (LiteRT) finds what ``theirs`` (TensorFlow) finds on ``images``."""
    from realtime.engine.tracker import iou_matrix, match_boxes

    row = {"set": name, "images": len(images), "tf_faces": 0, "litert_faces": 0, "matched": 0,
           "min_iou": None, "max_landmark_px": None}
    ious, dists = [], []
    for image in images:
        a, b = theirs.detect(image), ours.detect(image)
        row["tf_faces"] += len(a)
        row["litert_faces"] += len(b)
        for i, j in match_boxes(a.boxes, b.boxes, 0.5):
            row["matched"] += 1
            ious.append(float(iou_matrix(a.boxes[i], b.boxes[j])[0, 0]))
            dists.append(float(np.linalg.norm(a.landmarks[i] - b.landmarks[j], axis=1).max()))
    if ious:
        row["min_iou"], row["max_landmark_px"] = min(ious), max(dists)
    return row


def fresh_process(variant: str, frame: np.ndarray, repeats: int, folder: Path) -> dict:
    """Wall time to the first faces and peak RSS of a new process (see the module's docstring);
    ``variant``: ``tensorflow``, ``litert`` or :data:`SINGLE`."""
    path = folder / "frame.npy"
    np.save(path, frame)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = []
    for _ in range(repeats):
        runtime, how = ("litert", "single") if variant == SINGLE else (variant, "default")
        done = subprocess.run([sys.executable, "-c", PROCESS, runtime, str(path), how], env=env,
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"runtime": variant, "ready_s": median([r["ready_s"] for r in runs]),
            "peak_rss_mb": median([r["peak_rss_mb"] for r in runs]),
            "tensorflow_imported": runs[0]["tensorflow_imported"], "runs": repeats, "each": runs}


def interpreter_costs(path: Path, repeats: int) -> dict:
    """What a new PNet image size costs LiteRT, on the first pyramid level of a 640x480 frame
    (480x360 after the downscale, 360x270 at the first scale) and its next level: making an
    interpreter, its first call, a call that resizes an interpreter, and a steady call (ms)."""
    from facecore.litert.runner import Runner

    a, b = np.zeros((1, 270, 360, 3), np.float32), np.zeros((1, 191, 255, 3), np.float32)
    made, first, resized, steady = [], [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        runner = Runner(path, 1)
        made.append(time.perf_counter() - start)
        start = time.perf_counter()
        runner(a)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        runner(a)
        steady.append(time.perf_counter() - start)
        runner(b)
        start = time.perf_counter()
        runner(a)
        resized.append(time.perf_counter() - start)
    return {"make_ms": 1000 * median(made), "first_call_ms": 1000 * median(first),
            "resizing_call_ms": 1000 * median(resized), "steady_call_ms": 1000 * median(steady), "runs": repeats}


def main(argv: list[str] | None = None) -> int:
    p = clip_arguments("python -m bench.detect_runtime", __doc__)
    p.add_argument("--size", default="640x480", help="WxH the speed frames are resized to")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="LiteRT thread counts to time")
    p.add_argument("--lfw-every", type=int, default=4, help="agreement on every N-th LFW photo (0: none)")
    args = parse_args(p, argv, "detect_runtime", facenet=False)
    import tempfile

    from facecore.config import load_config
    from facecore.images import read_image
    from facecore.litert.mtcnn import converted_networks

    config = load_config(None, args.overrides)
    converted_networks()  # the cache the fresh LiteRT processes read
    load_before = load_average()
    w, h = (int(v) for v in args.size.split("x"))
    per_clip = {clip: sample_frames(clip, args.frames) for clip in clips(args.clips)}
    resized = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for fs in per_clip.values() for f in fs]
    detectors = variants(config, args.threads)
    speed_rows = speed(detectors, resized, args.repeats)
    tf_detector, lite = detectors["tensorflow"], detectors[lite_name(args.threads[0])]
    frames = [f for fs in per_clip.values() for f in fs]
    agree_rows = [agreement("clip frames", frames, tf_detector, lite)]
    if args.lfw_every:
        photos = sorted((SHARED / "data" / "lfw-dev").glob("*/*.jpg"))[::args.lfw_every]
        agree_rows.append(agreement("LFW photos", [read_image(p) for p in photos], tf_detector, lite))
    with tempfile.TemporaryDirectory() as folder:
        process_rows = [fresh_process(v, resized[0], args.repeats, Path(folder))
                        for v in ("tensorflow", "litert", SINGLE)]
    interpreter_rows = [interpreter_costs(lite._nets.pnet.path, 5 * args.repeats)]
    for rows, columns in ((speed_rows, SPEED_COLUMNS), (agree_rows, AGREE_COLUMNS), (process_rows, PROCESS_COLUMNS),
                          (interpreter_rows, INTERPRETER_COLUMNS)):
        print_table(rows, columns)
        print()
    print(f"load average (1 min): {load_before} before, {load_average()} after")
    write_results(args.name, {"args": vars(args), "speed": speed_rows, "agreement": agree_rows,
                              "process": process_rows, "pnet_interpreter": interpreter_rows,
                              "load_average_1min": [load_before, load_average()]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
