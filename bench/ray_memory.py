"""Peak memory of each Ray process of ``face-live --engine ray --headless``, per runtime.

Runs face-live on one clip with a bundle, once per ``--runtimes`` entry, and samples the
resident memory (``VmRSS``) of every process whose title starts with ``ray::`` (a camera
actor, the recogniser replica, the log writer, Ray's own) every 0.3 s; prints the peak of
each actor kind in MB. Nothing is written but the JSON result.

    python -m bench.ray_memory --model M [--clip CLIP] [--runtimes litert tensorflow] [--set K=V ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from .common import REPO, SHARED, load_average, print_table, write_results

KINDS = {"camera actor": "CameraWorker", "recogniser replica": "ServeReplica:facecam:recognizer",
         "log writer": "LogWriter"}


def _ray_titles() -> dict[str, int]:
    """``{title's first word: VmRSS in kB}`` of the ``ray::`` processes running now."""
    found: dict[str, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode(errors="replace")
            if title.startswith("ray::"):
                status = open(f"/proc/{pid}/status").read().splitlines()
                rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
                found[title.split()[0]] = max(found.get(title.split()[0], 0), rss)
        except (OSError, StopIteration, ValueError):
            continue
    return found


def run(runtime: str, args) -> dict:
    """One face-live run on ``runtime``: the peak MB of each of ``KINDS`` and its summary line."""
    command = [sys.executable, "-m", "realtime.cli", "--engine", "ray", "--headless", "--source", args.clip,
               "--model", args.model, "--log", "", "--set", "faces.folder=", "--set", f"recognition.runtime={runtime}",
               *[item for value in args.overrides for item in ("--set", value)]]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    peak: dict[str, int] = {}
    while proc.poll() is None:
        for title, rss in _ray_titles().items():
            peak[title] = max(peak.get(title, 0), rss)
        time.sleep(0.3)
    lines = [line for line in proc.stdout.read().splitlines() if " frames in " in line]
    row = {"runtime": runtime, "exit": proc.returncode, "summary": lines[-1] if lines else ""}
    for kind, marker in KINDS.items():
        kbs = [kb for title, kb in peak.items() if title.startswith(f"ray::{marker}")]
        row[kind] = round(max(kbs or [0]) / 1024, 1)
    row["all"] = {title: round(kb / 1024, 1) for title, kb in sorted(peak.items())}
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ray_memory", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the bundle face-live uses")
    p.add_argument("--clip", default=str(SHARED / "data" / "videos" / "obama-biden" / "obama.mp4"))
    p.add_argument("--runtimes", nargs="+", default=["litert", "tensorflow"], choices=["litert", "tensorflow"])
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--name", default="ray-memory", help="name of the JSON result file")
    args = p.parse_args(argv)
    load_before = load_average()
    rows = [run(runtime, args) for runtime in args.runtimes]
    print_table(rows, ["runtime", "exit", *KINDS])
    write_results(args.name, {"args": vars(args), "rows": rows, "load_average_1min": [load_before, load_average()]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
