"""Soak: ``face-live --headless`` over a clip played in a loop, resident memory sampled as it runs.

    python -m bench.soak --frames 20000            # obama-biden clip, Obama and Biden enrolled (facenet)
    python -m bench.soak --frames 5000 --nobody    # nobody enrolled: detection and tracking only

1. (unless ``--nobody``) train a bundle from the clip's enrollment stills, with the facenet backbone,
2. run the real ``face-live`` (``realtime.cli.live``: config, CSV log, pipeline, overlay, loop),
   headless, on the clip; its capture is ``cv2.VideoCapture`` rewound at the end of the file,
   so the clip plays over and over (frame numbers keep growing, as a camera's would),
3. every ``--every`` frames, read the process's resident memory (``VmRSS`` in
   ``/proc/self/status``) from inside that capture,
4. print a table and write JSON (all samples) to ``bench/results/soak.json``.

Growth is measured from the sample at ``--warm-up`` frames (the first thousand frames trace
graphs and fill caches), to the end and to the highest sample after it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

from .common import FACENET_H5, SHARED, print_table, write_results

__all__ = ["LoopingCapture", "rss_mb", "soak", "main"]

CLIP = SHARED / "data" / "videos" / "obama-biden" / "obama.mp4"
STILLS = SHARED / "data" / "videos" / "obama-biden" / "enroll"


def rss_mb(key: str = "VmRSS") -> float:
    """This process's resident memory (or another ``/proc/self/status`` size, e.g. ``VmHWM``) in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    raise OSError(f"{key} not in /proc/self/status")


class LoopingCapture:
    """``cv2.VideoCapture`` of a file that starts again at its end; samples memory every ``every`` reads."""

    def __init__(self, source, every: int, progress: bool = True) -> None:
        self._source, self.every, self.progress = str(source), every, progress
        self._cap = cv2.VideoCapture(self._source)
        self.frames, self.loops, self._start = 0, 0, time.perf_counter()
        self.samples: list[dict] = []

    def isOpened(self) -> bool:
        return self._cap.isOpened()

    def read(self):
        ok, image = self._cap.read()
        if not ok:  # the end of the clip: play it again
            self._cap.release()
            self._cap = cv2.VideoCapture(self._source)
            self.loops += 1
            ok, image = self._cap.read()
        if ok:
            if self.frames % self.every == 0:
                self._sample()
            self.frames += 1
        return ok, image

    def _sample(self) -> None:
        sample = {"frame": self.frames, "seconds": round(time.perf_counter() - self._start, 1),
                  "rss_mb": round(rss_mb(), 1), "loops": self.loops}
        self.samples.append(sample)
        if self.progress:
            print(f"soak: frame {sample['frame']:>6}  {sample['seconds']:>8.1f} s  rss {sample['rss_mb']:.1f} MB",
                  file=sys.stderr, flush=True)

    def get(self, prop):
        return self._cap.get(prop)

    def set(self, prop, value):
        return self._cap.set(prop, value)

    def release(self) -> None:
        self._sample()  # the last one: after the final frame
        self._cap.release()


def _enroll(workdir: Path, overrides: list[str]):
    """Train a bundle on the clip's stills; returns ``(bundle path, models)`` to reuse in the run."""
    from enroll.training import train
    from facecore.models import Models
    from facecore.config import load_config

    config = load_config(None, [*overrides, f"train.cache_dir={workdir / 'cache'}"])
    models = Models.build(config)
    result = train(config, STILLS, workdir / "model", models=models, progress=False)
    print(f"soak: enrolled {', '.join(result.labels)} with {config.backbone.name}", file=sys.stderr)
    return result.path, models


def soak(frames: int, every: int, clip: Path, nobody: bool, overrides: list[str]) -> dict:
    """Run the soak; returns the report, the samples and the memory figures."""
    from realtime.cli import live

    overrides = overrides or ["backbone.name=facenet", f"backbone.weights={FACENET_H5}"]
    with tempfile.TemporaryDirectory(prefix="facecam-soak-") as tmp:
        workdir = Path(tmp)
        model, models = (None, None) if nobody else _enroll(workdir, overrides)
        captures: list[LoopingCapture] = []

        def opener(source):
            captures.append(LoopingCapture(source, every))
            return captures[-1]

        argv = ["--source", str(clip), "--headless", "--max-frames", str(frames), "--log", str(workdir / "log.csv"),
                "--set", f"train.model={model or workdir / 'none'}"]
        for item in overrides:
            argv += ["--set", item]
        report = live(argv, models=models, opener=opener)
        rows = sum(1 for _ in open(workdir / "log.csv")) - 1
    run = captures[-1]  # the capture of the run (face-live opens the clip once before, to check it)
    samples = run.samples
    return {"report": report.as_dict(), "csv_rows": rows, "loops": run.loops, "samples": samples,
            "peak_rss_mb": round(rss_mb("VmHWM"), 1)}


def summarize(result: dict, warm_up: int) -> dict:
    """Memory growth after the sample nearest ``warm_up`` frames: to the end and to the highest sample."""
    samples = result["samples"]
    base = min(samples, key=lambda s: abs(s["frame"] - warm_up))
    after = [s for s in samples if s["frame"] >= base["frame"]]
    return {
        "warm_up_frame": base["frame"],
        "rss_after_warm_up_mb": base["rss_mb"],
        "rss_end_mb": samples[-1]["rss_mb"],
        "growth_to_end_mb": round(samples[-1]["rss_mb"] - base["rss_mb"], 1),
        "growth_to_max_mb": round(max(s["rss_mb"] for s in after) - base["rss_mb"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000, help="frames to run (default 20000)")
    parser.add_argument("--every", type=int, default=250, help="sample memory every N frames (default 250)")
    parser.add_argument("--warm-up", type=int, default=1000, help="growth is measured from this frame (default 1000)")
    parser.add_argument("--clip", type=Path, default=CLIP, help="video file to loop (default: the obama-biden clip)")
    parser.add_argument("--nobody", action="store_true", help="enroll nobody: no backbone, every face unknown")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="SECTION.KEY=VALUE",
                        help="config overrides (default: the facenet backbone from ../shared/models)")
    parser.add_argument("--out", help="JSON file (default: bench/results/soak.json)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not args.clip.is_file():
        parser.error(f"clip not found: {args.clip} (../shared is needed)")
    result = soak(args.frames, args.every, args.clip, args.nobody, args.overrides)
    figures = summarize(result, args.warm_up)
    print_table(result["samples"], ["frame", "seconds", "rss_mb", "loops"])
    print_table([figures], list(figures))
    report = result["report"]
    print(f"{report['frames']} frames in {report['seconds']:.0f} s ({report['fps']:.1f} fps), "
          f"{report['model_calls']} model calls, {result['csv_rows']} CSV rows, "
          f"clip played {result['loops'] + 1} times")
    write_results("soak", {"frames": args.frames, "every": args.every, "clip": str(args.clip),
                           "enrolled": not args.nobody, "overrides": args.overrides, **figures, **result}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
