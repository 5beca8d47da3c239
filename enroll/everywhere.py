"""``face-enroll remove NAME --everywhere``: a person forgotten in everything face-live wrote.

1. every CSV log: the default one (``log.path``), each one face-live recorded in the outputs
   registry (``log.registry``) and each ``--log PATH`` given: their rows deleted;
2. the face store: the faces kept under their name, and the damaged records that mention
   them or cannot be parsed at all, with their pictures;
3. the event database (``events.database``): their sightings and events, leaving no byte of
   the name in its files;
4. the review sheets, made again by the next review;
5. the annotated videos face-live recorded are named: they may show the person, and are
   not edited;
6. last, the workspace's folders and every log are read byte by byte: a file that still
   mentions them is a failure naming it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from facecore.config import Config
from facecore.errors import FacecamError, StorageError, UsageError
from facecore.eventdb import forget_everywhere as forget_events
from facecore.facestore import FaceStore
from facecore.outputs import Outputs, read_outputs
from facecore.retention import Forgotten, forget
from facecore.traces import find_traces, workspace_roots
from facecore.words import counted

from .people import existing_names
from .removal import bundle_labels

__all__ = ["Everywhere", "forget_everywhere", "report_everywhere"]

_SHOWN = 5  # paths named in one line, at most


@dataclass
class Everywhere:
    """What :func:`forget_everywhere` did and found."""

    done: Forgotten
    logs: list = field(default_factory=list)  # every log looked at
    outside: list = field(default_factory=list)  # those outside the workspace
    missing: list = field(default_factory=list)  # of those, the ones not there now (a disk not mounted?)
    videos: list = field(default_factory=list)  # annotated videos that are still there
    registry_damaged: str = ""
    traces: list = field(default_factory=list)  # what still mentions them, after all
    events: int = 0  # sightings and events deleted from the event database
    events_error: str = ""  # why the event database could not be cleaned

    @property
    def found(self) -> int:
        return self.done.faces + self.done.damaged + self.done.rows + self.events + len(self.traces)


def _registry(config: Config) -> Outputs:
    if not config.log.registry:
        return Outputs()
    try:
        return read_outputs(config.log.registry)
    except OSError as exc:
        return Outputs(damaged=f"cannot read it: {exc.strerror or exc}")


def _logs(config: Config, registered: Outputs, given: list) -> list[str]:
    """The default log, the registered ones and the ``given`` ones, each once (by real path)."""
    seen, out = set(), []
    for path in filter(None, [config.log.path, *registered.logs, *given]):
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(str(path))
    return out


def _inside(path: str, roots: list[Path]) -> bool:
    real = Path(os.path.abspath(path))
    return any(real.is_relative_to(root) for root in roots)


def forget_everywhere(config: Config, name: str, given_logs: list, enrolled: bool = True,
                      root: Path | None = None) -> Everywhere:
    """Forget ``name`` in every log, the face store and the review sheets (see the module's
    steps), then look for what still mentions them. The sheets of someone not ``enrolled`` are
    left alone when nothing else named them (a name mistyped). ``root``: the workspace the logs'
    snapshot cells are relative to."""
    registered = _registry(config)
    logs = _logs(config, registered, given_logs)
    roots = workspace_roots(config)
    store = FaceStore(config.faces.folder) if config.faces.folder else None
    outside = [p for p in logs if not _inside(p, roots)]
    missing = [p for p in outside if not Path(p).exists()]
    done = forget(name, store, logs, root)
    events, events_error = 0, ""
    try:
        events = forget_events(config.events.database or None, name)
    except StorageError as exc:  # the other places are still cleaned; the failure is reported last
        events_error = str(exc)
    if enrolled or done.faces + done.damaged + done.rows + events:
        shutil.rmtree(config.review.sheets, ignore_errors=True)  # sheets may show their face: made again by review
    others = existing_names(config.train.data) + bundle_labels(config.train.model)  # "Ann Smith" is no trace of "Ann"
    videos = [p for p in registered.videos if Path(p).exists()]
    return Everywhere(done, logs, outside, missing, videos, registered.damaged,
                      find_traces(workspace_roots(config, logs), name, others), events, events_error)


def _paths(paths: list) -> str:
    shown = ", ".join(str(p) for p in paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def report_everywhere(config: Config, name: str, found: Everywhere, enrolled: bool, say=print) -> None:
    """Say what was done (``say(line)``: on stdout); ``UsageError`` when ``name`` was not enrolled and nothing
    mentioned them, ``FacecamError`` (exit 1) when a log could not be cleaned or a file still
    mentions them."""
    done = found.done
    if not enrolled and not found.found:
        raise UsageError(f"nobody named {name!r} is enrolled in {config.train.data}, and nothing face-live kept "
                         f"mentions them: nothing to forget")
    if not enrolled:
        say(f"nobody named {name} is enrolled in {config.train.data}, but face-live kept traces of them")
    damaged = f" ({done.damaged} of them damaged records that may show them)" if done.damaged else ""
    say(f"forgot {name} everywhere: {counted(done.rows, 'CSV log row')} in {counted(len(found.logs), 'log')}, "
          f"{counted(found.events, 'event database row')} and {counted(done.faces + done.damaged, 'kept face')} "
          f"deleted{damaged}, review sheets cleared")
    command = f"face-enroll remove {name!r} --everywhere --log PATH"
    failed = {path for path, _ in done.failed}
    cleaned_outside = [p for p in found.outside if p not in failed and p not in found.missing]
    if cleaned_outside:
        say(f"also cleaned logs outside this workspace: {_paths(cleaned_outside)} (a copy of one elsewhere "
              f"is not: clean it with {command})")
    if found.missing:
        say(f"logs outside this workspace not found now (on a disk not mounted?): {_paths(found.missing)}; "
              f"when one is back, clean it with {command}")
    if found.registry_damaged:
        say(f"warning: the outputs registry {config.log.registry} is damaged ({found.registry_damaged}): a log it "
              f"listed may have been missed; clean one with {command}")
    if found.videos:
        say(f"annotated videos face-live wrote may still show {name} (videos are not edited; delete them if "
              f"they do): {_paths(found.videos)}")
    if done.failed:
        path, why = done.failed[0]
        more = f" (and {len(done.failed) - 1} more logs)" if len(done.failed) > 1 else ""
        raise FacecamError(f"cannot clean the CSV log {path}{more}: {why}; when it can be written, clean it with: "
                           f"face-enroll remove {name!r} --everywhere --log {path}")
    if found.events_error:
        raise FacecamError(f"cannot forget {name} in the event database: {found.events_error}; when it can be "
                           f"opened, run: face-enroll remove {name!r} --everywhere")
    if found.traces:
        raise FacecamError(f"{name} is still mentioned in {len(found.traces)} files: {_paths(found.traces)}")
