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

from facecore.bundle import Bundle
from facecore.config import Config
from facecore.csvlog import CsvLog
from facecore.files import check_output, check_output_folder

from ..events.hub import Hub
from ..events.outbound import check_outputs, start_outputs
from ..sources import plan_sources, video_paths

__all__ = ["Consumer", "check_before_start", "start_consumers"]

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


def start_consumers(stack: ExitStack, config: Config, hub: Hub, bundle: Bundle | None, consumers) -> None:
    """Events out (webhooks, MQTT) and each of ``consumers`` listen on ``hub``; each one's ``close()``
    runs at the end of the run, before the hub closes (callbacks of ``stack`` run last in, first out)."""
    stack.callback(hub.close)
    stack.callback(start_outputs(config, hub, bundle.labels if bundle is not None else ()))
    for consumer in consumers:
        stack.callback(consumer(hub))
