"""The outputs registry (``log.registry``, ``data/outputs.json``): every CSV log and annotated
video face-live has written from this workspace, so that ``face-enroll remove NAME
--everywhere`` cleans every log (not only the default one) and names every video.

The file is owner-only JSON, ``{"logs": [path, ...], "videos": [path, ...]}``, absolute
paths, each once. Runs that start together take turns (an exclusive ``flock`` on a hidden
lock file beside it, from the read to the rename), and each write is whole (a temporary
file renamed into place). A damaged registry (edited by hand, cut short) is read for what
can be read of it: every JSON string in it that looks like a path, ``.csv`` ones as logs.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .files import write_private, writing
from .people import make_private_dir

__all__ = ["Outputs", "read_outputs", "record_outputs"]

log = logging.getLogger(__name__)
_STRING = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_KINDS = ("logs", "videos")


@dataclass(frozen=True)
class Outputs:
    """``logs`` and ``videos`` recorded; ``damaged``: why the registry could not be read whole
    (``""`` when it could, or when there is none)."""

    logs: tuple = ()
    videos: tuple = ()
    damaged: str = ""


def _salvage(data: bytes) -> tuple[list[str], list[str]]:
    """The path-like JSON strings of a damaged registry: ``(logs, videos)``."""
    found = []
    for raw in _STRING.findall(data):
        try:
            text = json.loads(b'"' + raw + b'"')
        except ValueError:
            continue
        if text not in _KINDS and os.sep in text:
            found.append(text)
    return [p for p in found if p.lower().endswith(".csv")], [p for p in found if not p.lower().endswith(".csv")]


def _parse(data: bytes) -> Outputs:
    try:
        record = json.loads(data.decode("utf-8"))
        if not isinstance(record, dict) or not all(
                isinstance(record.get(k, []), list) and all(isinstance(p, str) for p in record.get(k, []))
                for k in _KINDS):
            raise ValueError("expected {\"logs\": [paths], \"videos\": [paths]}")
    except (ValueError, RecursionError) as exc:
        logs, videos = _salvage(data)
        return Outputs(tuple(logs), tuple(videos), str(exc).splitlines()[0] if str(exc) else "not JSON")
    return Outputs(tuple(record.get("logs", [])), tuple(record.get("videos", [])))


def read_outputs(path: str | os.PathLike) -> Outputs:
    """What the registry at ``path`` lists (nothing when there is none); ``OSError`` when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return Outputs()
    return _parse(data)


@contextmanager
def _turn(path: Path) -> Iterator[None]:
    """Hold the registry's lock file exclusively (one writer at a time)."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _unique(paths: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(paths))


def record_outputs(path: str | os.PathLike, logs: Iterable = (), videos: Iterable = ()) -> None:
    """Add ``logs`` and ``videos`` (paths, made absolute) to the registry at ``path``, created
    owner-only with its folder; a damaged registry is rewritten with what could be read of it.
    ``StorageError`` when it cannot be written."""
    path = Path(path)
    logs, videos = [os.path.abspath(p) for p in logs], [os.path.abspath(p) for p in videos]
    make_private_dir(path.parent)
    with writing(path), _turn(path):
        old = read_outputs(path)
        if old.damaged:
            log.warning("the outputs registry %s was damaged (%s): rewritten with the %d paths found in it",
                        path, old.damaged, len(old.logs) + len(old.videos))
        new = {"logs": _unique([*old.logs, *logs]), "videos": _unique([*old.videos, *videos])}
        if old.damaged or new != {"logs": list(old.logs), "videos": list(old.videos)}:
            write_private(path, json.dumps(new, ensure_ascii=False, indent=1).encode("utf-8"), sync=False)
