"""Backbone throughput: faces per second, one model call per face against one batched call.

For each backbone and each batch size ``n``, ``n`` crops go through the backbone as ``n``
calls of one crop (``per_face``) and as one call of ``n`` crops (``batched``), both through
``Backbone.features``, the path recognition takes. Every batch size is traced before it is
timed (warm-up), so the figures are steady-state; the runtimes (and LiteRT's thread counts)
take turns within each repeat, so that they see the same load. ``speedup`` is batched over per-face
faces/s, the median of the ratios of each repeat. The crops are random pixels: the cost of
these networks does not depend on what they see. ``vgg16`` runs with ``weights = "none"``
(random weights cost the same as ImageNet ones and need no download).

Each backbone runs on each ``--runtimes``: ``tensorflow`` (Keras) and ``litert`` (the model
converted once and cached, see ``facecore.litert``; once per ``--threads`` count, which is how
LiteRT's thread count is chosen). On the ``tensorflow`` runtime only Keras is imported, never
TensorFlow directly, so the benchmark also runs on another Keras backend:
``KERAS_BACKEND=jax python -m bench.recognize --runtimes tensorflow`` (with ``jax`` installed).
(Keras itself loads TensorFlow, when installed, to seed it for ``vgg16`` with random weights;
each row says whether TensorFlow was loaded by then.)

    python -m bench.recognize --sizes 1 4 8 16 64 --repeats 3 --runtimes litert tensorflow --threads 1 2

Prints a table and writes JSON to ``bench/results/recognize.json`` (``--name``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from .common import FACENET_H5, load_average, median, print_table, write_results

COLUMNS = ["backbone", "runtime", "threads", "batch", "per_face_fps", "batched_fps", "speedup", "per_face_cpu_ms",
           "batched_cpu_ms", "runs"]
WEIGHTS = {"vgg16": "none", "facenet": str(FACENET_H5)}


def faces_per_second(backbone, crops: np.ndarray, per_face: bool) -> tuple[float, float]:
    """Faces per second of wall time, and milliseconds of the process's CPU time (all its threads)
    per face: on a shared machine the second depends far less on what else runs."""
    start, cpu = time.perf_counter(), time.process_time()
    if per_face:
        for i in range(len(crops)):
            backbone.features(crops[i:i + 1])
    else:
        backbone.features(crops)
    return len(crops) / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / len(crops)


def measure(name: str, sizes: list[int], repeats: int, runs: list[tuple[str, int]]) -> list[dict]:
    """Rows for backbone ``name`` on each ``(runtime, threads)`` of ``runs``. The runs take turns
    within each repeat (their order rotating), so that all of them see the same load."""
    from facecore.backbones import build_backbone
    from facecore.config import BackboneConfig

    built = []
    for runtime, threads in runs:  # every size is one call of exactly that size (no padding to another)
        backbone = build_backbone(BackboneConfig(name=name, weights=WEIGHTS[name]), sorted({1, *sizes}), runtime,
                                  threads)
        backbone.warm_up(every_size=True)
        built.append(backbone)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (max(sizes), built[0].input_size, built[0].input_size, 3), dtype=np.uint8)
    rows = []
    for n in sizes:
        timings: list[list[tuple]] = [[] for _ in runs]
        for repeat in range(repeats):  # alternate which mode goes first, rotate which run: the load drifts
            order = (True, False) if repeat % 2 == 0 else (False, True)
            for k in [(repeat + i) % len(runs) for i in range(len(runs))]:
                got = {mode: faces_per_second(built[k], crops[:n], mode) for mode in order}
                timings[k].append((got[True][0], got[False][0], got[True][1], got[False][1]))
        for (runtime, threads), got in zip(runs, timings):
            rows.append(_row(name, runtime, threads, n, got))
    return rows


def _row(name: str, runtime: str, threads: int, n: int, runs: list[tuple]) -> dict:
    """``runs``: (per-face fps, batched fps, per-face CPU ms/face, batched CPU ms/face) per repeat."""
    return {
        "backbone": name, "runtime": runtime, "threads": threads if runtime == "litert" else "",
        "keras_backend": _keras_backend() if runtime == "tensorflow" else "", "batch": n,
        "per_face_fps": median([r[0] for r in runs]), "batched_fps": median([r[1] for r in runs]),
        "speedup": median([r[1] / r[0] for r in runs]), "runs": len(runs),
        "per_face_cpu_ms": round(median([r[2] for r in runs]), 1),
        "batched_cpu_ms": round(median([r[3] for r in runs]), 1),
        "raw": [[round(x, 3) for x in r] for r in runs], "load_average": load_average(),
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.recognize", description=__doc__.split("\n\n")[0])
    p.add_argument("--backbones", nargs="*", default=["facenet", "vgg16"], choices=sorted(WEIGHTS))
    p.add_argument("--sizes", nargs="*", type=int, default=[1, 4, 8, 16, 64], help="batch sizes")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--runtimes", nargs="*", default=["litert", "tensorflow"], choices=["litert", "tensorflow"])
    p.add_argument("--threads", nargs="*", type=int, default=[2], help="LiteRT's thread counts to try")
    p.add_argument("--name", default="recognize", help="name of the JSON result file")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load_before = load_average()
    runs = [(runtime, threads) for runtime in args.runtimes
            for threads in (args.threads if runtime == "litert" else [0])]
    rows = [row for name in args.backbones for row in measure(name, args.sizes, args.repeats, runs)]
    print_table(rows, COLUMNS)
    print(f"load average (1 min): {load_before} before, {load_average()} after")
    write_results(args.name, {"args": vars(args), "rows": rows, "load_average_1min": [load_before, load_average()]})
    return 0


def _keras_backend() -> str:
    import keras

    return keras.backend.backend()


if __name__ == "__main__":
    sys.exit(main())
