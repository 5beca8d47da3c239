"""face-live's start-up, part by part, in one process: the command's import, the runtime (the
device chosen: TensorFlow's import when TensorFlow runs the networks, nothing on LiteRT), the
MTCNN detector, facenet (built from its file, or its converted model read from the cache), and
the warm-up (the detector's first call on a blank frame, the backbone's first run), as face-live
does them.

    python bench/startup.py [--weights FILE] [--runtime auto|litert|tensorflow]

On LiteRT the converted models must be in the cache already (a run of face-enroll train or
face-live puts them there): the figure is a start with the cache.

Run as a script, it times the facecam code that Python finds first: with
``PYTHONPATH=/path/to/another/checkout`` (and the working folder outside any checkout),
that checkout's. Prints one line of seconds per part.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "models" / "facenet_keras.h5"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python bench/startup.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(WEIGHTS), help="facenet_keras.h5")
    p.add_argument("--runtime", default="auto", choices=("auto", "litert", "tensorflow"))
    args = p.parse_args(argv)
    parts, last = {}, [time.perf_counter()]

    def mark(part: str) -> None:
        now = time.perf_counter()
        parts[part] = round(now - last[0], 2)
        last[0] = now

    import numpy as np

    import realtime.cli  # noqa: F401  (what the command imports before anything is built)
    mark("import of the command")
    from facecore.config import load_config
    from facecore.runtime import resolve_runtime, runtime_backbone, runtime_detector
    from realtime.engine.device import select_device

    config = load_config(None, ["backbone.name=facenet", f"backbone.weights={args.weights}",
                                f"recognition.runtime={args.runtime}"])
    device = select_device(config.recognition.device, runtime=config.recognition.runtime)
    mark("runtime")
    detector = runtime_detector(config, device.name)
    mark("detector")
    backbone = runtime_backbone(config)
    mark("backbone")
    side = config.detector.max_side
    detector.detect(np.zeros((side * 9 // 16, side, 3), np.uint8))
    backbone.warm_up()
    mark("warm-up")
    print(f"{realtime.cli.__file__} ({resolve_runtime(config.recognition)}): {parts}, "
          f"total {sum(parts.values()):.2f} s, tensorflow imported: {'tensorflow' in sys.modules}")
    sys.stdout.flush()
    os._exit(0)  # as face-live: nothing is unloaded


if __name__ == "__main__":
    sys.exit(main())
