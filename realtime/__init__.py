"""realtime: frames in -> labelled frames, window, CSV out (``face-live``).

The pieces, each usable alone: :class:`Tracker` (IoU tracks and name votes, pure),
:class:`SourceStage` (one source: detect -> track -> crops due, then votes),
:class:`Engine` (all sources' crops of a step in one batched model call),
:class:`Overlay` (boxes, labels, stats), :class:`EventLog` (which recognitions become
rows of the CSV log, :mod:`facecore.csvlog`, and which faces are kept), :class:`Writer` (it
applied on its own thread), :class:`Hub` (what happened, for consumers), :class:`LiveLoop` (the loop
with its worker thread), :func:`select_device`, and ``realtime.cli`` (the command).
Importing this package loads no model.
"""

from .device import Device, select_device
from .events import EventLog, LogPolicy
from .hub import Hub
from .loop import LiveLoop, LoopOptions
from .overlay import Overlay
from .engine import Engine
from .pipeline import StepResult, SourceStage, StageTimes
from .stats import RunReport
from .tracker import Tracker, vote
from .writer import Writer

__all__ = [
    "Device", "select_device", "EventLog", "LogPolicy", "Writer", "Hub",
    "LiveLoop", "LoopOptions", "Overlay", "Engine", "SourceStage", "StepResult", "StageTimes", "RunReport", "Tracker",
    "vote",
]
