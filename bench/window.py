"""How soon face-live's window shows the source: seconds from starting the process to the
first picture on a virtual screen (Xvfb), and to the models being ready.

    python -m bench.window [--source CLIP] [--model BUNDLE] [--repeats 3] [--set KEY=VALUE ...]

Each run starts ``face-live --source CLIP`` under ``xvfb-run``; the clock starts when the
virtual screen is up and face-live is started on it. ``xdotool`` is polled every 20 ms for a
viewable window titled ``facecam``; the process's stderr gives the moment the models were
ready. Needs xvfb-run and xdotool (``apt-get install xvfb xdotool``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, VIDEOS, median

SCRIPT = 'printf "%s\\n%s\\n" "$DISPLAY" "$XAUTHORITY" > "$0"; exec "$@"'


def one_run(command: list[str], folder: Path, timeout: float = 180) -> dict:
    """Seconds to a viewable facecam window and to the "models ready" line, for one process."""
    info, err = folder / "display.txt", folder / "err.txt"
    start = time.perf_counter()
    with open(err, "w") as stderr:
        proc = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", "bash", "-c", SCRIPT, str(info),
                                 *command], env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=folder,
                                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    window_s = ready_s = None
    try:
        while time.perf_counter() - start < timeout and proc.poll() is None and ready_s is None:
            display = info.read_text().split() if info.exists() else []
            if len(display) < 2:  # the virtual screen is not up yet: face-live has not started
                time.sleep(0.02)
                start = time.perf_counter()
                continue
            if window_s is None:
                x_env = {**os.environ, "DISPLAY": display[0], "XAUTHORITY": display[1]}
                found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^facecam$"], env=x_env,
                                       capture_output=True, text=True)
                if found.stdout.strip():
                    window_s = time.perf_counter() - start
            if "models ready" in err.read_text():
                ready_s = time.perf_counter() - start
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return {"window_s": window_s, "models_ready_s": ready_s}


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.window", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=str(VIDEOS / "obama-biden" / "obama.mp4"))
    p.add_argument("--model", help="bundle (default: none, every face unknown)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    args = p.parse_args(argv)
    if not shutil.which("xvfb-run") or not shutil.which("xdotool"):
        raise SystemExit("needs xvfb-run and xdotool: apt-get install xvfb xdotool")
    command = [sys.executable, "-m", "realtime.cli", "--source", args.source, "--log", "",
               *(["--model", args.model] if args.model else []), *[x for o in args.overrides for x in ("--set", o)]]
    runs = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="bench-window-") as tmp:
            runs.append(one_run(command, Path(tmp)))
        last = runs[-1]
        print(f"run {i + 1}: window after {_s(last['window_s'])}, models ready after {_s(last['models_ready_s'])}")
    windows = [r["window_s"] for r in runs if r["window_s"] is not None]
    readies = [r["models_ready_s"] for r in runs if r["models_ready_s"] is not None]
    print(f"median: window {_s(median(windows) if windows else None)}, "
          f"models ready {_s(median(readies) if readies else None)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
