"""Events out under failure: does a webhook and an MQTT broker that are both down slow face-live?

A 4-source run (``--sources``; the people clips in turn, looped, paced like cameras,
headless, one process) with a webhook (an HTTP receiver in this process) and a real
Mosquitto broker (``mosquitto`` on a free port) as ``[events]`` targets, twice:

- ``up``: both answer for the whole run;
- ``down``: ``--warmup`` seconds after the models are ready, both are stopped (the receiver's
  port refuses connections, the broker is gone) for ``--down`` seconds, then started again.

The rows are made many (``log.cooldown_s`` 2, ``events.cooldown_s`` 0) so that every target
has work the whole time. Per run: display fps and naming latency (as ``bench.multicam``:
from ``--report``), rows logged, POSTs received, MQTT events received, and face-live's
warning lines. The target: in ``down``, display fps and latency within 10 % of ``up``.
``--repeat`` alternates the two to see the machine's own spread.

    python -m bench.delivery --seconds 90 --warmup 10 --down 60

Prints a table and writes JSON to ``bench/results/delivery.json`` (``--name``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import REPO, load_average, parse_args, print_table, write_results

__all__ = ["main"]

COLUMNS = ["run", "display_fps_min", "display_fps_mean", "latency_p50_s", "latency_max_s", "named_tracks", "rows",
           "posts", "mqtt_events", "warnings", "down_s"]
BUSY = ["log.cooldown_s=2", "events.cooldown_s=0"]


class Targets:
    """The receiver (counting POSTs) and the broker (with a listener counting event messages):
    the tests' real parts (``tests/realtime/outbound_helpers.py``; the bench runs from a checkout)."""

    def __init__(self, folder: Path) -> None:
        sys.path.insert(0, str(REPO / "tests" / "realtime"))
        from outbound_helpers import Listener, Receiver, mosquitto_broker

        self._receiver, self._listener = Receiver, Listener
        self.broker = mosquitto_broker(folder)
        self.receiver = Receiver()
        self.listener = Listener(self.broker.port, topics=["facecam/+/event"])
        self.posts, self.events = 0, 0

    def overrides(self) -> list[str]:
        return [f'events.webhooks=["http://bench:s3cret@127.0.0.1:{self.receiver.port}/hook"]',
                f'events.mqtt="mqtt://127.0.0.1:{self.broker.port}"']

    def down(self) -> None:
        self._stop()

    def up(self) -> None:
        self.broker.start()
        self.receiver = self._receiver(port=self.receiver.port)  # the same port: face-live's URL
        self.listener = self._listener(self.broker.port, topics=["facecam/+/event"])

    def _stop(self) -> None:
        self.posts += len(self.receiver.posts)
        self.events += len(self.listener.messages)
        self.receiver.close()
        self.listener.close()
        self.broker.stop()

    def close(self) -> tuple[int, int]:
        time.sleep(1.0)
        self._stop()
        return self.posts, self.events


def _face_live(sources: list[str], bundle: Path, overrides: list[str], out: Path) -> subprocess.Popen:
    sets = [x for o in overrides for x in ("--set", o)]
    command = [sys.executable, "-m", "realtime.cli", *[x for s in sources for x in ("--source", s)],
               "--headless", "--model", str(bundle), "--log", str(out.with_suffix(".csv")), "--report", str(out),
               "--set", "camera.pace=true", *sets]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def run(kind: str, sources: list[str], bundle: Path, overrides: list[str], tmp: Path, warmup: float,
        down: float) -> dict:
    """One run; ``kind`` ``down`` stops both targets for ``down`` s, ``warmup`` s after the models are ready."""
    from .multicam import summarize

    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp))
    targets = Targets(folder)
    out = folder / "report.json"
    proc = _face_live(sources, bundle, [*overrides, *BUSY, *targets.overrides()], out)
    lines, outage = [], threading.Thread(target=_outage, args=(targets, warmup, down), daemon=True)
    for line in proc.stderr:
        lines.append(line.rstrip())
        if line.startswith("face-live: models") and kind == "down":
            outage.start()
    proc.wait()
    if outage.is_alive():
        outage.join()
    down_s = down if outage.ident is not None else 0.0
    posts, events = targets.close()
    if proc.returncode != 0:
        raise SystemExit(f"face-live failed: {lines[-1:]}")
    report = json.loads(out.read_text())
    warnings = [line for line in lines if line.startswith("warning:")]
    return {"run": kind, **summarize("one process", [report], report["seconds"]), "rows": report.get("rows"),
            "posts": posts, "mqtt_events": events, "warnings": len(warnings), "down_s": down_s,
            "warning_lines": warnings, "secret_shown": any("s3cret" in line for line in lines)}


def _outage(targets: Targets, warmup: float, down: float) -> None:
    time.sleep(warmup)
    targets.down()
    time.sleep(down)
    targets.up()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__.split("\n\n")[0])
    p.add_argument("--sources", type=int, default=4, help="how many sources in the one face-live process")
    p.add_argument("--seconds", type=float, default=90.0, help="how long each source plays (looped clips)")
    p.add_argument("--warmup", type=float, default=10.0, help="seconds after the models are ready before the outage")
    p.add_argument("--down", type=float, default=60.0, help="seconds both targets stay down")
    p.add_argument("--repeat", type=int, default=1, help="how many up/down pairs")
    args = parse_args(p, argv, "delivery")
    from .multicam import prepare

    load_before, rows = load_average(), []
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        tmp = Path(tmp)
        bundle, clips = prepare(args.overrides, tmp, args.seconds)
        sources = [f"s{i + 1}={clips[i % len(clips)]}" for i in range(args.sources)]
        for _ in range(args.repeat):
            for kind in ("up", "down"):
                rows.append(run(kind, sources, bundle, args.overrides, tmp, args.warmup, args.down))
                print_table([rows[-1]], COLUMNS)
    print()
    print_table(rows, COLUMNS)
    for row in rows:
        for line in row["warning_lines"]:
            print(f"{row['run']}: {line}")
    print(f"load average (1 min): {load_before} before, {load_average()} after")
    write_results(args.name, {"args": vars(args), "load_average_1min": [load_before, load_average()], "runs": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
