"""What the benchmarks share: where the real data is, the machine, tables and JSON results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

__all__ = ["REPO", "SHARED", "FACENET_H5", "VIDEOS", "RESULTS", "machine", "print_table", "write_results", "median",
           "load_average", "clips", "facenet_overrides", "parse_args", "report_runs"]

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACECAM_SHARED", REPO.parent / "shared"))
FACENET_H5 = SHARED / "models" / "facenet_keras.h5"
VIDEOS = SHARED / "data" / "videos"
RESULTS = REPO / "bench" / "results"


def machine() -> dict:
    """A short description of where a benchmark ran."""
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "system": platform.platform(terse=True),
    }


def median(values) -> float:
    return float(statistics.median(values))


def load_average() -> float:
    """The 1-minute load average (the machine is shared: timings are only as quiet as this)."""
    return round(os.getloadavg()[0], 2)


def clips(selected: list[str] | None = None) -> list[Path]:
    """The clips to run: ``selected`` (paths relative to ``VIDEOS``), or every ``*.mp4`` there."""
    if selected:
        return [VIDEOS / c for c in selected]
    return sorted(VIDEOS.glob("*/*.mp4"))


def facenet_overrides(overrides: list[str]) -> list[str]:
    """``overrides`` plus the facenet backbone from ``../shared/models``, unless they name a backbone."""
    if any(o.startswith("backbone.") for o in overrides):
        return list(overrides)
    return [*overrides, "backbone.name=facenet", f"backbone.weights={FACENET_H5}"]


def parse_args(parser, argv: list[str] | None, name: str, facenet: bool = True):
    """Add ``--name`` and ``--set`` to ``parser`` and parse ``argv``; with ``facenet``, the
    facenet backbone is used unless ``--set backbone.*`` says otherwise."""
    parser.add_argument("--name", default=name, help=f"name of the JSON result file (default {name})")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="SECTION.KEY=VALUE",
                        help="override one config value; repeatable")
    args = parser.parse_args(argv)
    if facenet:
        args.overrides = facenet_overrides(args.overrides)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return args


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Print ``rows`` as an aligned text table of ``columns``."""
    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))

    widths = [max([len(c), *(len(cell(r.get(c))) for r in rows)]) for c in columns]  # no rows: the headers
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(cell(r.get(c)).ljust(w) for c, w in zip(columns, widths)))


def write_results(name: str, payload: dict, out: str | Path | None = None) -> Path:
    """Write ``payload`` (plus the machine and time) as JSON; returns the path."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    print(f"results written to {path}")
    return path


def report_runs(args, rows: list[dict], columns: list[str], load_before: float) -> Path:
    """The end of a benchmark: ``rows`` as a table of ``columns``, the load average before and now,
    and the JSON result (``args``, the load averages, the runs) under ``args.name``."""
    print_table(rows, columns)
    load_after = load_average()
    print(f"load average (1 min): {load_before} before, {load_after} after")
    return write_results(args.name, {"args": vars(args), "load_average_1min": [load_before, load_after], "runs": rows})


def looped(clip: Path, dest: Path, seconds: float | None = None, times: int = 1) -> Path:
    """``clip`` played over and over into ``dest`` (same size and rate): ``times`` times, or until
    it lasts ``seconds``."""
    import cv2

    capture = cv2.VideoCapture(str(clip))
    fps, frames = capture.get(cv2.CAP_PROP_FPS) or 30.0, []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    total = int(seconds * fps) if seconds is not None else times * len(frames)
    for i in range(total):
        writer.write(frames[i % len(frames)])
    writer.release()
    return dest
