"""Memory of one web app process once ``/api/recognize`` and the People page have both built their models.

For each ``--runtimes`` entry, a fresh process (so that the runtimes do not share memory) builds
the web app's context on a bundle enrolled from the clips' stills, then asks for
``/api/recognize``'s recogniser and for the People page's models (what a retraining uses), and
reads its resident memory (``VmRSS``) before, between and after, and how long the People page's
call waited. Prints a table; writes JSON to ``bench/results/web_models.json`` (``--name``).

    python -m bench.web_models [--runtimes litert tensorflow]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import REPO, load_average, parse_args, report_runs

COLUMNS = ["runtime", "start_mb", "api_mb", "people_mb", "people_wait_s"]

_CHILD = """
import json, sys, time, types
from pathlib import Path
from facecore.config import load_config
from web.context import WebContext
from web.people import desk_of

def rss():
    status = open("/proc/self/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024

config = load_config(None, json.loads(sys.argv[1]))
context = WebContext(config, Path(sys.argv[2]))
row = {"start_mb": rss()}
context.recognizer()
row["api_mb"] = rss()
request = types.SimpleNamespace(app=types.SimpleNamespace(state=types.SimpleNamespace()))
start = time.perf_counter()
desk_of(context, request).models()
row["people_wait_s"] = time.perf_counter() - start
row["people_mb"] = rss()
print(json.dumps(row))
"""


def measure(runtime: str, bundle: Path, overrides: list[str], root: Path) -> dict:
    """One fresh process on ``runtime``: its row of :data:`COLUMNS`."""
    sets = [*overrides, f"train.model={bundle}", f"recognition.runtime={runtime}"]
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(sets), str(root)], capture_output=True,
                          text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:]
        raise SystemExit(f"the web app's models could not be built on {runtime}: {last}")
    return {"runtime": runtime, **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.web_models", description=__doc__.split("\n\n")[0])
    p.add_argument("--runtimes", nargs="+", default=["litert", "tensorflow"], help="recognition.runtime values")
    args = parse_args(p, argv, "web_models")
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-web-models-") as tmp:
        from facecore.config import load_config
        from facecore.models import Models

        from .live import enroll_stills

        config = load_config(None, args.overrides)
        bundle = enroll_stills(config, Models.build(config), Path(tmp), None)
        rows = [measure(runtime, bundle, args.overrides, Path(tmp)) for runtime in args.runtimes]
    report_runs(args, rows, COLUMNS, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
