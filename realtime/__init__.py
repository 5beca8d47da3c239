"""realtime: frames in -> labelled frames, window, CSV out (``face-live``).

The pieces, each usable alone: :class:`Tracker` (IoU tracks and name votes, pure),
:class:`SourceStage` (one source: detect -> track -> crops due, then votes),
:class:`Engine` (all sources' crops of a step in one batched model call),
:class:`Overlay` (boxes, labels, stats), :class:`EventLog` (which recognitions become
rows of the CSV log, :mod:`facecore.csvlog`, and which faces are kept), :class:`Writer` (it
applied on its own thread), :class:`Hub` (what happened, for consumers), :class:`LiveLoop` (the loop
with its worker thread), :func:`select_device`, and ``realtime.cli`` (the command).
Importing this package loads no model.

The modules, grouped by what they are:

- ``realtime.cli`` (the command) and ``realtime.sources`` (the sources and videos of a run, checked);
- ``realtime.engine``: the engine core (``core``, ``step``, ``pipeline``, ``tracker``, ``scenes``,
  ``stats``, ``device``, ``reload``, ``preflight``) and its two transports: local threads
  (``local``, ``views``) and Ray (``ray_engine``, ``ray_parts``, ``ray_guard``, ``ray_watch``);
- ``realtime.events``: the event records (``records``), the one writer (``writer``; under Ray the
  log actor, ``ray_hub``), the ``hub`` and the faces kept (``keeper``), and the consumers that
  send events out (``outbound``, ``notices``, ``webhooks``, ``mqtt``);
- ``realtime.window``: the window and the videos written (``sinks``), the ``overlay`` and the
  ``startup`` screen shown while the models load.

Only the ``ray_*`` modules import Ray, and nothing imports them before ``--engine ray`` asks for them.
"""

from .engine.device import Device, select_device
from .engine.local import LiveLoop, LoopOptions
from .engine.pipeline import StepResult, SourceStage, StageTimes
from .engine.stats import RunReport
from .engine.step import Engine
from .engine.tracker import Tracker, vote
from .events.hub import Hub
from .events.records import EventLog, LogPolicy
from .events.writer import Writer
from .window.overlay import Overlay

__all__ = [
    "Device", "select_device", "EventLog", "LogPolicy", "Writer", "Hub",
    "LiveLoop", "LoopOptions", "Overlay", "Engine", "SourceStage", "StepResult", "StageTimes", "RunReport", "Tracker",
    "vote",
]
