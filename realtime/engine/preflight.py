"""What both engines of ``face-live`` do before their sources play: one check of every output, and
the consumers of the run's hub started.

A *consumer* (:data:`Consumer`) is a function given the run's :class:`~realtime.events.hub.Hub` once,
before any source plays, under either engine; it subscribes (``hub.subscribe``), asks for the
pictures of the sources it shows (``hub.watch``), starts its own thread if it needs one, and
returns the function that stops it, called at the end of the run after every row is written and
before the hub closes. Events out (:func:`realtime.events.outbound.start_outputs`) is one; a web app is
another (``realtime.cli.live(..., consumers=[...])`` or ``main(argv, consumers=[...])``).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from facecore.bundle import Bundle, bundle_exists, load_bundle
from facecore.config import Config
from facecore.csvlog import CsvLog
from facecore.errors import StorageError, UsageError
from facecore.files import check_output, check_output_folder
from facecore.outputs import record_outputs

from ..events.hub import Hub
from ..events.outbound import check_outputs, start_outputs
from ..sources import plan_sources, video_paths

__all__ = ["Consumer", "check_before_start", "initial_bundle", "record_run_outputs", "start_consumers"]

Consumer = Callable[[Hub], Callable[[], None]]  # hub -> the function that stops the consumer


def check_before_start(args, config: Config) -> tuple[list, dict[str, Path]]:
    """Every check of the run's outputs, the same for both engines, before any source or model:
    the sources and their videos' paths (returned), ``--report``, the faces' folder, the CSV log
    (its folder, and its columns when it exists) and the events-out targets."""
    specs = plan_sources(config)
    videos = video_paths(args.output, specs)
    if args.report:
        check_output(args.report, "--report", "the report", "report.json")
    if config.faces.folder:
        check_output_folder(config.faces.folder, "--faces", "the kept faces", make=False)
    if config.log.path:
        CsvLog(config.log.path).check_path()
    check_outputs(config)
    return specs, videos


def initial_bundle(args, config: Config) -> Bundle | None:
    """The bundle at ``train.model``, read and checked (a damaged one fails here, at once); ``None``
    when nobody is enrolled. A ``--model`` given explicitly must hold one."""
    path = Path(config.train.model)
    if not bundle_exists(path):
        if args.model is not None:
            raise UsageError(f"--model {path}: no model bundle there (train one with: face-enroll train)")
        return None
    return load_bundle(path)


def record_run_outputs(config: Config, videos: dict[str, Path], say: Callable[[str], None]) -> None:
    """Note the CSV log and the videos of this run in the outputs registry (``log.registry``), so
    that ``face-enroll remove NAME --everywhere`` cleans the log and names the videos; a registry
    that cannot be written is a warning, given to ``say``."""
    logs = [config.log.path] if config.log.path else []
    if not config.log.registry or not (logs or videos):
        return
    try:
        record_outputs(config.log.registry, logs, videos.values())
    except StorageError as exc:
        say(f"warning: {exc}: face-enroll remove --everywhere will not know of this run's log and videos "
            f"(give a log with its --log PATH)")


def start_consumers(stack: ExitStack, config: Config, hub: Hub, bundle: Bundle | None, consumers) -> None:
    """Events out (webhooks, MQTT) and each of ``consumers`` listen on ``hub``; each one's ``close()``
    runs at the end of the run, before the hub closes (callbacks of ``stack`` run last in, first out)."""
    stack.callback(hub.close)
    stack.callback(start_outputs(config, hub, bundle.labels if bundle is not None else ()))
    for consumer in consumers:
        stack.callback(consumer(hub))
