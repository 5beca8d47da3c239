"""``face-live``: recognise enrolled people live on one or many sources, draw their names,
log them to CSV.

1. read the config and the command line, check the sources, outputs and the bundle (a
   usage error stops here, before any model),
2. open the cameras, pick the device (say which), build the detector and, when a model
   bundle is there, the recogniser (without one every face is "unknown"): one engine
   for all sources,
3. run the loop until every source ends, ``q``/``Esc``, ``--max-frames``, SIGINT or SIGTERM,
4. close the CSV log (the writer's thread writes every row still queued) and the videos cleanly
   and print a summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from facecore.app import (add_common_options, detach_python_stderr, exit_fast, load_command_config,
                          quiet_tensorflow, run_guarded, setup_logging)
from facecore.bundle import Bundle
from facecore.config import Config
from facecore.errors import FacecamError, UsageError
from facecore.files import write_private
from facecore.models import Models
from facecore.recognizer import Recognizer, check_bundle
from facecore.workspace import announce_workspace

from facecore.csvlog import CsvLog
from .engine.device import DEVICE_CHOICES, select_device
from .engine.local import LiveLoop, LoopOptions, View
from .engine.pipeline import SourceStage
from .engine.preflight import Consumer, check_before_start, initial_bundle, record_run_outputs, start_consumers
from .engine.reload import ModelReloader
from .engine.stats import RunReport
from .engine.step import Engine
from .events.hub import Hub
from .events.keeper import keep_rules
from .events.records import EventLog
from .events.writer import Writer
from .sources import SourceOpener
from .window.overlay import Overlay
from .window.sinks import VideoSink, Window, require_gui
from .window.startup import LoadingScreen, ModelLoader

__all__ = ["main", "build_parser", "live", "ENROLL_HINT", "Consumer"]

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
    p.add_argument("--source", action="append", default=[], metavar="[NAME=]SOURCE",
                   help="camera index, video file, stream URL or image folder, optionally named "
                        "(door=rtsp://...; a name is letters, digits, _ . -); repeat for several sources "
                        "(default: camera.sources, else camera 0)")
    p.add_argument("--model", metavar="DIR", help="model bundle folder (default: train.model)")
    p.add_argument("--device", choices=DEVICE_CHOICES, help="where the models run (default: recognition.device)")
    p.add_argument("--headless", action="store_true", help="no window (use with --output and/or --log)")
    p.add_argument("--output", metavar="FILE|DIR",
                   help="write the annotated video: a .mp4/.avi FILE with one source, a folder with several")
    p.add_argument("--hold", action="store_true",
                   help="with a window on files or folders: keep the last frame up when they end, until q/Esc "
                        "(default: face-live quits)")
    p.add_argument("--max-frames", type=_frames, default=0, metavar="N",
                   help="stop each source after N frames (0: no limit)")
    p.add_argument("--log", metavar="FILE", help="CSV log of recognitions (default: log.path; '' for none)")
    p.add_argument("--faces", metavar="DIR",
                   help="keep the faces of logged tracks (each row's crop and the best few) in DIR "
                        "(default: faces.folder)")
    p.add_argument("--snapshots", metavar="DIR", help=argparse.SUPPRESS)  # the old spelling of --faces
    p.add_argument("--report", metavar="JSON", help="also write the run's figures (per source too) to this file")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: one process (default); ray: camera actors and a recognizer deployment on Ray")
    p.add_argument("--ray-address", metavar="HOST:PORT",
                   help="with --engine ray: join this cluster (default: ray.address; none: start a local Ray)")
    p.add_argument("--web", metavar="[HOST:]PORT",
                   help="also serve the web app (live tiles, people, review, events, the API) there; "
                        "127.0.0.1 unless a host is given (any other needs web.password)")
    add_common_options(p)
    return p


def _say(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


@contextmanager
def _window(config: Config, headless: bool) -> Iterator[Window | None]:
    window = None if headless else Window(config.overlay.window_name)
    try:
        yield window
    finally:
        if window is not None:
            window.close()


def _engine(config: Config, specs: list, bundle: Bundle | None, models: Models) -> Engine:
    """One stage per source around ``models``' detector, and the recogniser of ``bundle``."""
    recognizer = Recognizer.from_bundle(bundle, config, backbone=models.backbone) if bundle is not None else None
    stages = [SourceStage(spec.name, config, models.detector, recognizer is not None, Path(spec.source).is_dir())
              for spec in specs]
    return Engine(stages, models.detector, recognizer)


def _live_on_ray(args, config: Config, stop: threading.Event | None, consumers, web=None) -> RunReport:
    """``--engine ray``: the same checks first (Ray installed, headless, sources, outputs, CSV
    log, bundle), then the run on Ray, its rows and views relayed to a hub in this process."""
    from .engine.ray_engine import require_ray
    from .engine.ray_guard import check_address

    require_ray()
    check_address(config.ray.address)  # a wrong or unreachable address: one line now, before anything
    if not args.headless:
        raise UsageError("--engine ray runs without a window: add --headless (--output DIR keeps each camera's video)")
    specs, videos = check_before_start(args, config)
    bundle = initial_bundle(args, config)
    if bundle is not None:
        check_bundle(bundle, config)
    record_run_outputs(config, videos, _say)
    announce_workspace(args, config.log.path, config.faces.folder, prog=PROG)
    from .engine.ray_engine import run_ray

    keep = keep_rules(config, bundle, args.workspace_root)
    with ExitStack() as stack:
        hub = Hub()
        start_consumers(stack, config, hub, bundle, _with_web(consumers, web, specs))
        return run_ray(config, specs, videos, args.max_frames, stop, _say, keep, hub)


def _web_server(args, config: Config):
    """``--web``: the web app's starter, its address checked now (a bad one, or a host beyond loopback
    without a password: one line, before anything opens); ``None`` without ``--web``. The web
    package lies above this one: it is imported only here, only when asked for."""
    if not args.web:
        return None
    from web.server import check_address, start_web

    host, port = check_address(args.web, config)
    return lambda hub, sources: start_web(config, args.workspace_root, hub, sources, host, port)


def _with_web(consumers: Sequence[Consumer], web, specs: list) -> list[Consumer]:
    """``consumers``, and the web app (when ``--web`` asked for it) as one more consumer of the hub."""
    if web is None:
        return list(consumers)

    def serve(hub: Hub):
        server = web(hub, [spec.name for spec in specs])
        _say(f"web app: {server.url}")
        return server.stop  # before the hub closes

    return [*consumers, serve]


def live(argv: list[str] | None = None, models: Models | None = None, stop: threading.Event | None = None,
         opener=None, consumers: Sequence[Consumer] = ()) -> RunReport:
    """Run ``face-live`` with ``argv``; errors are raised (``main`` turns them into exit codes).

    ``models``: built before (tests, benchmarks), used instead of building; ``opener``
    replaces ``cv2.VideoCapture`` (tests of camera faults, the soak benchmark). ``consumers``:
    each is called once with the run's :class:`~realtime.events.hub.Hub` before the sources play (either
    engine) and returns the function that stops it at the end of the run (a :data:`Consumer`).
    """
    args = build_parser().parse_args(argv)
    if args.snapshots is not None:
        _say("warning: --snapshots is deprecated: write --faces DIR instead (read as that now)")
        args.faces = args.faces if args.faces is not None else args.snapshots
    config = load_command_config(args)
    web = _web_server(args, config)
    if args.engine == "ray":
        return _live_on_ray(args, config, stop, consumers, web)
    if not args.headless:
        require_gui()
    specs, videos = check_before_start(args, config)
    bundle = initial_bundle(args, config)
    if bundle is not None:
        check_bundle(bundle, config, models.backbone if models is not None else None)
    with ExitStack() as stack:
        sources = SourceOpener(specs, config.camera, stack, opener)
        sources.open_live()  # a camera that cannot be opened, or a file without frames, fails here
        record_run_outputs(config, videos, _say)  # the run starts: what it writes is recorded, the workspace named
        announce_workspace(args, config.log.path, config.faces.folder, prog=PROG)
        csv_log = CsvLog(config.log.path, config.log.fsync) if config.log.path else None
        keep = keep_rules(config, bundle, args.workspace_root)
        hub = Hub()  # what happened, for any consumer: rows as they are written, each step's view
        start_consumers(stack, config, hub, bundle, _with_web(consumers, web, specs))  # stop after the writer drained
        events = Writer(EventLog(csv_log, config.log, config.faces.folder or None, keep=keep,
                                 database=config.events.database, hub=hub))
        stack.callback(events.close)
        if bundle is None:
            _say(f"no model bundle at {config.train.model}: every face is shown as unknown. {ENROLL_HINT}")
        window = stack.enter_context(_window(config, args.headless))
        screen = LoadingScreen(window, Overlay(config.overlay), len(specs)) if window is not None else None
        if screen is not None:
            screen.show(sources.newest())  # up before TensorFlow's import takes the interpreter
        loader = ModelLoader(lambda mark: _build(config, specs, bundle, models, mark)).start()
        if screen is not None:  # the sources' frames are shown while the models load
            ended = screen.until_ready(loader, sources.newest, stop or threading.Event())
            if ended:
                return RunReport(ended=ended, startup={"models_s": None, "parts": dict(loader.parts)})
        models, engine = loader.result()
        _say(f"models {loader.summary()}")
        cameras = sources.open_rest()  # a paced file starts playing here
        views = [View(name, camera, stack.enter_context(VideoSink(videos[name], camera.fps)) if videos else None)
                 for name, camera in cameras.items()]
        options = LoopOptions(args.max_frames, ENROLL_HINT, config.overlay.stale_s,
                              config.overlay.screenshot_dir, config.overlay.show_stats, args.hold)
        backbone = engine.recognizer.backbone if engine.recognizer else models.backbone
        reloader = ModelReloader(config.train.model, config, backbone, bundle.id if bundle else None, engine.offer)
        report = LiveLoop(views, engine, events, Overlay(config.overlay), options, stop, window, reloader,
                          _say).run()
    report.rows, report.rows_unwritten, report.log_error = events.rows, events.unwritten, events.error
    report.startup = {"models_s": round(loader.seconds, 3), "parts": dict(loader.parts)}
    return report


def _build(config: Config, specs: list, bundle: Bundle | None, models: Models | None,
           mark) -> tuple[Models, Engine]:
    """On the loader's thread: TensorFlow and the device, the models (unless given), the engine
    around them, warmed up; ``mark(part)`` after each part."""
    device = select_device(config.recognition.device, runtime=config.recognition.runtime)
    mark("runtime")
    _say(f"device: {device.description}")
    models = models or Models.build(config, device.name, backbone=bundle is not None, mark=mark)
    engine = _engine(config, specs, bundle, models)
    engine.warm_up()
    mark("warm-up")
    return models, engine


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


def main(argv: list[str] | None = None, consumers: Sequence[Consumer] = ()) -> int:
    """``face-live`` with ``argv``; returns the exit code. ``consumers``: as for :func:`live`."""
    quiet_tensorflow()
    args = build_parser().parse_args(argv)
    setup_logging(args.debug)

    def run() -> int:
        with _stop_on_signals() as stop:
            report = live(argv, stop=stop, consumers=consumers)
        _say(report.summary())
        if args.report:
            write_private(Path(args.report), json.dumps(report.as_dict(), indent=1).encode())
        if report.error:
            raise FacecamError(report.error)
        if report.log_error or report.rows_unwritten:
            raise FacecamError(f"the CSV log failed, rows not written: {report.rows_unwritten} "
                               f"({report.log_error or 'too many waited in memory'})")
        return 0

    return run_guarded(PROG, run, args.debug)


def console() -> None:
    """The installed command: ``main`` on the command line, then a fast exit."""
    detach_python_stderr()
    exit_fast(main())


if __name__ == "__main__":
    console()
