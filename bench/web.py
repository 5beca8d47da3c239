"""The web app's costs: what ``--web`` with browsers watching adds to a run, how soon the Live
page shows frames, and how fast ``POST /api/recognize`` answers.

- ``cpu``: a ``--sources`` source ``face-live --headless`` run (the clips of ``bench.multicam``,
  looped to ``--seconds``, paced like cameras, facenet), once without ``--web`` and once with
  ``--web`` and ``--browsers`` headless Chromium pages on the Live page (each viewing every
  source) for the whole run. Per run: the process's CPU (cores: CPU seconds / seconds of the
  loop, from ``--report``) and display fps (as ``bench.multicam``). Chromium's own CPU is not
  face-live's and is not counted. The target: at most 10 % more CPU with ``--web``, at the
  same display fps.
- ``first frame``: from each page's ``goto`` to its first tile showing a picture.
- ``recognize``: ``POST /api/recognize`` (in process, the app's own routes) of a 640x480 JPEG
  with one face (a frame of biden.mp4), ``--calls`` times once the models are warm.

    python -m bench.web --sources 4 --seconds 60 --browsers 2 --calls 30

Prints tables and writes JSON to ``bench/results/web.json`` (``--name``). Needs Playwright and
Debian's Chromium (``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, VIDEOS, load_average, parse_args, print_table, write_results

__all__ = ["main"]

COLUMNS = ["run", "cpu_cores", "display_fps_min", "display_fps_mean", "first_frame_s", "wall_s"]
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(sources: list[str], bundle: Path, overrides: list[str], report: Path, web: str | None) -> list[str]:
    sets = [x for o in overrides for x in ("--set", o)]
    return [sys.executable, "-m", "realtime.cli", *[x for s in sources for x in ("--source", s)], "--headless",
            "--model", str(bundle), "--log", "", "--report", str(report), "--set", "camera.pace=true",
            *(["--web", web] if web else []), *sets]


def _watch(url: str, browsers: int, chromium) -> tuple[list, list[float]]:
    """Open ``browsers`` pages on the Live page; the seconds each took to show its first picture."""
    pages, firsts = [], []
    for _ in range(browsers):
        page = chromium.new_context().new_page()
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function("() => [...document.querySelectorAll('.tile img')].some(i => i.naturalWidth > 0)",
                               timeout=120_000)
        firsts.append(round(time.perf_counter() - started, 3))
        pages.append(page)
    return pages, firsts


def run(kind: str, sources: list[str], bundle: Path, overrides: list[str], tmp: Path, browsers: int,
        chromium) -> dict:
    """One face-live run; ``kind`` ``web`` adds ``--web`` and ``browsers`` pages watching it."""
    from .multicam import summarize

    report = tmp / f"{kind}.json"
    port = _free_port() if kind == "web" else None
    proc = subprocess.Popen(_command(sources, bundle, overrides, report, f"127.0.0.1:{port}" if port else None),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    firsts, pages, lines = [], [], []
    for line in proc.stderr:
        lines.append(line.rstrip())
        if port and line.startswith("face-live: models"):  # the loop starts: the pages open now
            pages, firsts = _watch(f"http://127.0.0.1:{port}/", browsers, chromium)
    proc.wait()
    for page in pages:
        page.context.close()
    if proc.returncode != 0:
        raise SystemExit(f"face-live failed: {lines[-3:]}")
    figures = json.loads(report.read_text())
    row = summarize(kind, [figures], figures["seconds"])
    return {"run": kind, "cpu_cores": round(figures["cpu_s"] / figures["seconds"], 3),
            "display_fps_min": row["display_fps_min"], "display_fps_mean": row["display_fps_mean"],
            "first_frame_s": max(firsts) if firsts else None, "first_frames_s": firsts,
            "wall_s": round(figures["seconds"], 1)}


def recognize_latency(bundle: Path, overrides: list[str], calls: int, tmp: Path) -> dict:
    """Milliseconds per ``POST /api/recognize`` of a 640x480 JPEG with one face, warm."""
    import cv2
    from fastapi.testclient import TestClient

    from facecore.camera import Camera
    from facecore.config import load_config
    from facecore.images import encode_jpeg
    from web.app import create_app
    from web.context import WebContext

    with Camera(str(VIDEOS / "obama-biden" / "biden.mp4")) as camera:
        frame = next(iter(camera)).image
    photo = encode_jpeg(cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA), 90)
    config = load_config(None, [*overrides, f"train.model={bundle}"])
    client = TestClient(create_app(WebContext(config, tmp)), base_url="http://127.0.0.1")
    started = time.perf_counter()
    first = client.post("/api/recognize", content=photo).json()
    cold = time.perf_counter() - started
    times, server = [], []
    for _ in range(calls):
        started = time.perf_counter()
        answer = client.post("/api/recognize", content=photo).json()
        times.append(1000 * (time.perf_counter() - started))
        server.append(answer["ms"])
    times.sort()
    return {"faces": [f["name"] for f in first["faces"]], "first_call_s": round(cold, 2), "calls": calls,
            "p50_ms": round(times[len(times) // 2], 1), "p90_ms": round(times[int(len(times) * 0.9)], 1),
            "max_ms": round(times[-1], 1), "models_p50_ms": round(sorted(server)[len(server) // 2], 1)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n\n")[0])
    p.add_argument("--sources", type=int, default=4, help="sources of the face-live run")
    p.add_argument("--seconds", type=float, default=60.0, help="how long each source plays (looped clips)")
    p.add_argument("--browsers", type=int, default=2, help="pages on the Live page during the --web run")
    p.add_argument("--calls", type=int, default=30, help="warm POST /api/recognize calls timed")
    p.add_argument("--repeat", type=int, default=1, help="how many without/with pairs")
    args = parse_args(p, argv, "web")
    from playwright.sync_api import sync_playwright

    from .multicam import prepare

    load_before, rows = load_average(), []
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp, sync_playwright() as playwright:
        tmp = Path(tmp)
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        bundle, clips = prepare(args.overrides, tmp, args.seconds)
        sources = [f"s{i + 1}={clips[i % len(clips)]}" for i in range(args.sources)]
        for _ in range(args.repeat):
            for kind in ("headless", "web"):
                rows.append(run(kind, sources, bundle, args.overrides, tmp, args.browsers, chromium))
                print_table([rows[-1]], COLUMNS)
        chromium.close()
        latency = recognize_latency(bundle, args.overrides, args.calls, tmp)
    print()
    print_table(rows, COLUMNS)
    print()
    print_table([latency], ["faces", "first_call_s", "calls", "p50_ms", "p90_ms", "max_ms", "models_p50_ms"])
    print(f"load average (1 min): {load_before} before, {load_average()} after")
    write_results(args.name, {"args": vars(args), "load_average_1min": [load_before, load_average()], "runs": rows,
                              "recognize": latency})
    return 0


if __name__ == "__main__":
    sys.exit(main())
