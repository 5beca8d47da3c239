"""Many paced sources: one ``face-live`` process for all, against one process per source.

Each source is one of the clips (obama, biden, hamilton, in turn) played ``--seconds`` long
(looped) at its own frame rate, like a camera (``camera.pace = true``), headless. For
1, 2, 4 and 8 sources (``--counts``) it runs:

- ``one process``: ``face-live --source s1=... --source s2=...``: one engine, one
  recogniser, the crops of all sources of a step in one backbone call;
- ``per source`` (``--per-source``): one ``face-live`` process per source, all at once;
- ``ray`` (``--ray``): ``face-live --engine ray`` with all sources, when Ray is installed.

Per run: display fps of each source (frames shown / seconds of the run), recognition
latency (seconds from a track's first appearance to its name, over every named track),
faces per backbone call, and processor time per source (cores: CPU seconds of the loop
/ wall seconds / sources) and per frame shown. With ``ray``, the CPU is that of the camera
actors and the recogniser replicas (Ray's own servers not counted), and the seconds those
of the longest camera loop. Every process writes its figures with ``--report``; start-up
is not counted. People enrolled: the clips' stills (as ``bench.live``).

    python -m bench.multicam --counts 1 2 4 8 --seconds 20 --per-source

Prints a table and writes JSON to ``bench/results/multicam.json`` (``--name``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, VIDEOS, load_average, looped, parse_args, print_table, report_runs
from .live import enroll_stills

COLUMNS = ["engine", "sources", "display_fps_min", "display_fps_mean", "latency_p50_s", "latency_max_s",
           "named_tracks", "faces_per_call", "cpu_per_source", "cpu_ms_per_frame", "wall_s"]
CLIPS = ("obama-biden/obama.mp4", "obama-biden/biden.mp4", "hamilton-whitehouse/short_hamilton_clip.mp4")


def _face_live(sources: list[str], bundle: Path, overrides: list[str], out: Path, engine: str) -> subprocess.Popen:
    sets = [x for o in overrides for x in ("--set", o)]
    command = [sys.executable, "-m", "realtime.cli", *[x for s in sources for x in ("--source", s)], "--headless",
               "--model", str(bundle), "--log", str(out.with_suffix(".csv")), "--report", str(out),
               "--set", "camera.pace=true", *sets]
    if engine == "ray":
        command += ["--engine", "ray"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _wait(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"face-live failed: {err.strip().splitlines()[-1:]}")


def summarize(engine: str, reports: list[dict], wall: float) -> dict:
    """One row from the reports of the processes of one run."""
    sources = [s for r in reports for s in r["sources"].values()]
    latencies = sorted(x for s in sources for x in s["name_latency_s"])
    calls, faces = sum(r["model_calls"] for r in reports), sum(r["faces_recognized"] for r in reports)
    cores = sum(r["cpu_s"] / r["seconds"] for r in reports if r["seconds"])
    frames = sum(s["frames"] for s in sources)
    fps = [s["fps"] for s in sources]
    return {
        "engine": engine, "sources": len(sources), "display_fps_min": min(fps), "display_fps_mean": sum(fps) / len(fps),
        "latency_p50_s": latencies[len(latencies) // 2] if latencies else None,
        "latency_max_s": latencies[-1] if latencies else None, "named_tracks": len(latencies),
        "faces_per_call": faces / calls if calls else 0.0, "cpu_per_source": cores / len(sources),
        "cpu_ms_per_frame": 1000.0 * sum(r["cpu_s"] for r in reports) / frames if frames else None, "wall_s": wall,
    }


def prepare(overrides: list[str], tmp: Path, seconds: float) -> tuple[Path, list[Path]]:
    """A bundle enrolled from the clips' stills, and the clips looped to ``seconds``, in ``tmp``."""
    from facecore.config import load_config
    from facecore.models import Models

    config = load_config(None, overrides)
    bundle = enroll_stills(config, Models.build(config), tmp, None)
    return bundle, [looped(VIDEOS / c, tmp / f"{Path(c).stem}-looped.mp4", seconds=seconds) for c in CLIPS]


def run(engine: str, n: int, clips: list[Path], bundle: Path, overrides: list[str], tmp: Path) -> dict:
    sources = [f"s{i + 1}={clips[i % len(clips)]}" for i in range(n)]
    outs = [tmp / f"{engine.replace(' ', '-')}-{n}-{i}.json" for i in range(n)]
    start = time.perf_counter()
    if engine == "per source":
        procs = [_face_live([s], bundle, overrides, out, "local") for s, out in zip(sources, outs)]
    else:
        outs = outs[:1]
        procs = [_face_live(sources, bundle, overrides, outs[0], "ray" if engine == "ray" else "local")]
    _wait(procs)
    wall = time.perf_counter() - start
    reports = [json.loads(out.read_text()) for out in outs]
    return {**summarize(engine, reports, wall), "reports": reports}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.multicam", description=__doc__.split("\n\n")[0])
    p.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8], help="numbers of sources to run")
    p.add_argument("--seconds", type=float, default=20.0, help="how long each source plays (looped clips)")
    p.add_argument("--per-source", action="store_true", help="also run one face-live process per source")
    p.add_argument("--ray", action="store_true", help="also run --engine ray (needs: pip install -e '.[ray]')")
    args = parse_args(p, argv, "multicam")
    load_before, rows = load_average(), []
    with tempfile.TemporaryDirectory(prefix="bench-multicam-") as tmp:
        tmp = Path(tmp)
        bundle, clips = prepare(args.overrides, tmp, args.seconds)
        engines = ["one process"] + (["per source"] if args.per_source else []) + (["ray"] if args.ray else [])
        for n in args.counts:
            for engine in engines:
                rows.append(run(engine, n, clips, bundle, args.overrides, tmp))
                print_table([rows[-1]], COLUMNS)
    print()
    report_runs(args, rows, COLUMNS, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
