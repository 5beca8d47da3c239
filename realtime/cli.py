"""``face-live``: recognise enrolled people live, draw their names, log them to CSV.

1. read the config and the command line (a usage error stops here, before any model),
2. open the source, pick the device (say which), build the detector and, when a model
   bundle is there, the recogniser (without one every face is "unknown"),
3. run the loop until the source ends, ``q``/``Esc``, ``--max-frames``, SIGINT or SIGTERM,
4. close the CSV log and the video cleanly and print a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from facecore.app import exit_fast, load_command_config, quiet_tensorflow, run_guarded, setup_logging
from facecore.bundle import Bundle, bundle_exists, load_bundle
from facecore.camera import Camera, first_frame, parse_source
from facecore.config import Config
from facecore.errors import FacecamError, SourceError, UsageError
from facecore.recognizer import check_bundle

from .csvlog import CsvLog
from .device import DEVICE_CHOICES, Device, select_device
from .events import EventLog
from .loop import LiveLoop, LoopOptions
from .overlay import Overlay
from .pipeline import Pipeline
from .reload import ModelReloader
from .sinks import VideoSink, Window, check_video_path, require_gui
from .stats import RunReport

__all__ = ["main", "build_parser", "live", "ENROLL_HINT"]

PROG = "face-live"
ENROLL_HINT = "Nobody is enrolled yet: enroll someone with  face-enroll capture NAME"


def _frames(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Recognise enrolled people live and log them to CSV.")
    p.add_argument("--source", help="camera index, video file, stream URL or image folder (default: camera.source)")
    p.add_argument("--model", metavar="DIR", help="model bundle folder (default: train.model)")
    p.add_argument("--device", choices=DEVICE_CHOICES, help="where the models run (default: recognition.device)")
    p.add_argument("--headless", action="store_true", help="no window (use with --output and/or --log)")
    p.add_argument("--output", metavar="FILE", help="write the annotated video to FILE (.mp4 or .avi)")
    p.add_argument("--max-frames", type=_frames, default=0, metavar="N", help="stop after N frames (0: no limit)")
    p.add_argument("--log", metavar="FILE", help="CSV log of recognitions (default: log.path; '' for none)")
    p.add_argument("--snapshots", metavar="DIR",
                   help="save the face crop of each logged row in DIR (default: log.snapshots)")
    p.add_argument("--config", metavar="FILE", help="TOML config file (see configs/default.toml)")
    p.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[], dest="overrides",
                   help="override one config value; repeatable, applied last")
    p.add_argument("--debug", action="store_true", help="print tracebacks and debug logs")
    return p


def _say(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _initial_bundle(args, config: Config) -> Bundle | None:
    """The bundle at ``train.model``, read and checked (a damaged one fails here, at once); ``None``
    when nobody is enrolled. A ``--model`` given explicitly must hold one."""
    path = Path(config.train.model)
    if not bundle_exists(path):
        if args.model is not None:
            raise UsageError(f"--model {path}: no model bundle there (train one with: face-enroll train)")
        return None
    return load_bundle(path)


def _pipeline(config: Config, bundle: Bundle | None, device: Device, stills: bool, prebuilt=None) -> Pipeline:
    """The recogniser when there is a bundle (first: a bundle that does not fit fails before the
    detector is built), and the detector. ``prebuilt``: an object with ``detector`` and
    ``backbone`` built before (tests, benchmarks), used instead of building."""
    from facecore.detector import Detector
    from facecore.recognizer import Recognizer

    recognizer = None
    if bundle is not None:
        backbone = prebuilt.backbone if prebuilt is not None else None
        recognizer = Recognizer.from_bundle(bundle, config, backbone=backbone)
    detector = prebuilt.detector if prebuilt is not None else Detector(config.detector, device=device.name)
    return Pipeline(config, detector, recognizer, stills=stills)


def _is_live(source: str) -> bool:
    """A camera index or a stream URL (not a file, paced or not, nor a folder)."""
    parsed = parse_source(source)
    return isinstance(parsed, int) or "://" in parsed


def _check_source(source: str) -> None:
    """Fail before the models load when the source is a path that does not exist."""
    parsed = parse_source(source)
    if isinstance(parsed, str) and "://" not in parsed and not Path(parsed).exists():
        raise SourceError(f"video file or folder not found: {parsed}")


def _check_outputs(args, log_path: str) -> None:
    """Fail before the models load when ``--output`` or the CSV log cannot be written where asked
    (``UsageError``: not a video name, a folder; ``FacecamError``: a folder that cannot be made)."""
    if args.output:
        check_video_path(args.output)
    if log_path:
        CsvLog(log_path).check_path()


@contextmanager
def _window(config: Config, headless: bool) -> Iterator[Window | None]:
    window = None if headless else Window(config.overlay.window_name)
    try:
        yield window
    finally:
        if window is not None:
            window.close()


def live(argv: list[str] | None = None, prebuilt=None, stop: threading.Event | None = None,
         opener=None) -> RunReport:
    """Run ``face-live`` with ``argv``; errors are raised (``main`` turns them into exit codes).

    ``opener`` replaces ``cv2.VideoCapture`` (tests of camera faults, the soak benchmark).
    """
    args = build_parser().parse_args(argv)
    config = load_command_config(args)
    if not args.headless:
        require_gui()
    source, log_path = config.camera.source, config.log.path
    _check_source(source)
    _check_outputs(args, log_path)
    bundle = _initial_bundle(args, config)
    if bundle is not None:
        check_bundle(bundle, config, prebuilt.backbone if prebuilt is not None else None)
    with ExitStack() as stack:
        csv_log = CsvLog(log_path, config.log.fsync) if log_path else None
        events = EventLog(csv_log, config.log, str(source), config.log.snapshots or None)
        stack.callback(events.close)
        camera = None
        if _is_live(source):  # a camera or stream that cannot be opened fails before the models load
            camera = stack.enter_context(Camera(source, config.camera, opener))
        else:  # and so does a file or folder that gives no frame
            first_frame(source, config.camera, opener)
        device = select_device(config.recognition.device)
        _say(f"device: {device.description}")
        if bundle is None:
            _say(f"no model bundle at {config.train.model}: every face is shown as unknown. {ENROLL_HINT}")
        stills = Path(str(source)).is_dir()  # a folder of photos
        pipeline = _pipeline(config, bundle, device, stills, prebuilt)
        _say("warming up the models")
        pipeline.warm_up()
        if camera is None:  # a paced file starts playing here
            camera = stack.enter_context(Camera(source, config.camera, opener))
        video = stack.enter_context(VideoSink(args.output, camera.fps)) if args.output else None
        window = stack.enter_context(_window(config, args.headless))
        options = LoopOptions(args.max_frames, ENROLL_HINT, config.overlay.stale_s,
                              config.overlay.snapshot_dir, config.overlay.show_stats)
        backbone = pipeline.recognizer.backbone if pipeline.recognizer else getattr(prebuilt, "backbone", None)
        reloader = ModelReloader(config.train.model, config, backbone, bundle.id if bundle else None, pipeline.offer)
        report = LiveLoop(camera, pipeline, events, Overlay(config.overlay), options, stop, window, video,
                          reloader).run()
    report.rows, report.rows_unwritten, report.log_error = events.rows, events.unwritten, events.error
    return report


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the returned event (the loop then ends cleanly); a second one interrupts."""
    stop = threading.Event()

    def handler(signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _say(f"{signal.Signals(signum).name}: stopping")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow()
    args = build_parser().parse_args(argv)
    setup_logging(args.debug)

    def run() -> int:
        with _stop_on_signals() as stop:
            report = live(argv, stop=stop)
        _say(report.summary())
        if report.log_error or report.rows_unwritten:
            raise FacecamError(f"the CSV log failed, rows not written: {report.rows_unwritten} "
                               f"({report.log_error or 'too many waited in memory'})")
        return 0

    return run_guarded(PROG, run, args.debug)


def console() -> None:
    """The installed command: ``main`` on the command line, then a fast exit."""
    exit_fast(main())


if __name__ == "__main__":
    console()
