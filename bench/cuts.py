"""Scene cuts: the measure of :mod:`realtime.engine.scenes` within shots and at cuts: ``python -m bench.cuts``.

1. ``within``: the distance between frames of the same shot, 1, 2 and 3 frames apart (the
   display may skip a frame or two), on every clip, Hamilton's shots kept apart;
2. ``cuts``: the distance across the Hamilton clip's three real cuts (found by eye: its frames
   20, 82 and 211 each begin a new shot) and across joins of two clips (the first 60 frames of
   one, then 60 of the other at the first one's size), at the same gaps;
3. ``cost``: milliseconds of :func:`realtime.engine.scenes.signature` per frame, by frame size.

The default ``camera.cut_threshold`` should sit above every ``within`` figure and below every
``cuts`` figure, with room on both sides.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from facecore.camera import Camera
from facecore.config import CameraConfig
from realtime.engine.scenes import distance, signature

from .common import VIDEOS, load_average, median, print_table, write_results

HAMILTON = "hamilton-whitehouse/short_hamilton_clip.mp4"
HAMILTON_CUTS = (20, 82, 211)  # first frames of its shots after the first, found by eye
SINGLE_SHOTS = ("obama-biden/obama.mp4", "obama-biden/biden.mp4", "crowd-unknown/video.mp4")
JOINS = (("obama-biden/obama.mp4", "obama-biden/biden.mp4"), ("obama-biden/biden.mp4", "obama-biden/obama.mp4"),
         ("obama-biden/obama.mp4", HAMILTON), (HAMILTON, "obama-biden/biden.mp4"))
GAPS = (1, 2, 3)
JOIN_AT = 60


def read(clip: str, frames: int | None = None, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first ``frames`` RGB frames of ``clip`` (all when ``None``), resized to ``size`` (w, h)."""
    out = []
    with Camera(str(VIDEOS / clip)) as camera:
        for frame in camera:
            image = frame.image if size is None else cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
            out.append(image)
            if frames and len(out) >= frames:
                break
    return out


def gaps(signatures: list[np.ndarray], cuts: tuple[int, ...], gap: int) -> tuple[list[float], list[float]]:
    """Distances between frames ``gap`` apart: ``(within a shot, across a cut)``."""
    within, across = [], []
    for i in range(len(signatures) - gap):
        crossed = any(i < c <= i + gap for c in cuts)
        (across if crossed else within).append(distance(signatures[i], signatures[i + gap]))
    return within, across


def row(what: str, gap: int, values: list[float], kind: str) -> dict:
    return {"what": what, "kind": kind, "gap": gap, "pairs": len(values), "min": min(values),
            "median": median(values), "p99": float(np.quantile(values, 0.99)), "max": max(values)}


def measure() -> list[dict]:
    rows = []
    clips = {clip: ([signature(i) for i in read(clip)], ()) for clip in SINGLE_SHOTS}
    clips[HAMILTON] = ([signature(i) for i in read(HAMILTON)], HAMILTON_CUTS)
    for first, second in JOINS:
        head = read(first, JOIN_AT)
        size = head[0].shape[1], head[0].shape[0]
        images = head + read(second, JOIN_AT, size)
        clips[f"{first} + {second}"] = ([signature(i) for i in images], (JOIN_AT,))
    for gap in GAPS:
        for clip, (signatures, cuts) in clips.items():
            within, across = gaps(signatures, cuts, gap)
            if " + " not in clip:
                rows.append(row(clip, gap, within, "within"))
            if across:
                rows.append(row(clip, gap, across, "cut"))
    return rows


def cost(repeats: int = 7, calls: int = 50) -> list[dict]:
    """Milliseconds per :func:`signature` on one frame of each clip's size (median of ``repeats``)."""
    out = []
    for clip in (HAMILTON, *SINGLE_SHOTS):
        image = read(clip, 1)[0]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                signature(image)
            times.append((time.perf_counter() - start) * 1000.0 / calls)
        out.append({"frame": f"{image.shape[1]}x{image.shape[0]}", "clip": clip, "ms": median(times)})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="cuts", help="name of the JSON result file (default cuts)")
    args = parser.parse_args(argv)
    rows = measure()
    print_table(rows, ["what", "kind", "gap", "pairs", "min", "median", "p99", "max"])
    within = {gap: max(r["max"] for r in rows if r["kind"] == "within" and r["gap"] == gap) for gap in GAPS}
    at_cuts = min(r["min"] for r in rows if r["kind"] == "cut")
    default = CameraConfig().cut_threshold
    print(f"\nwithin shots at most {', '.join(f'{v:.3f} ({g} apart)' for g, v in within.items())}; "
          f"at cuts at least {at_cuts:.3f}; default threshold {default}: "
          f"{default / within[1]:.2f}x the first, {at_cuts / default:.2f}x under the last\n")
    timing = cost()
    print_table(timing, ["frame", "clip", "ms"])
    write_results(args.name, {"rows": rows, "within_max": {str(g): v for g, v in within.items()}, "cut_min": at_cuts,
                              "threshold": default, "cost": timing, "load": load_average()})


if __name__ == "__main__":
    main()
