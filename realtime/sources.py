"""face-live's sources and where their annotated videos go, checked before any model loads.

1. ``plan_sources``: ``camera.sources`` (or ``camera.source``) as named sources; each path
   must exist;
2. ``video_paths``: ``--output`` is a video file with one source, a folder with several
   (one ``<name>.mp4`` per source);
3. ``SourceOpener``: cameras and streams are opened at once (one that cannot be opened
   fails before the models load), files and folders are probed for a first frame and
   opened for good later, so that a paced file starts playing when the models are ready.
   With any live source, files are paced too: they are played at their own rate.
"""

from __future__ import annotations

import dataclasses
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from facecore.camera import Camera, Frame, SourceSpec, first_frame, is_stream, named_sources, parse_source
from facecore.config import CameraConfig, Config
from facecore.errors import SourceError, UsageError

from .window.sinks import VIDEO_SUFFIXES, check_video_path

__all__ = ["plan_sources", "video_paths", "SourceOpener"]


def plan_sources(config: Config) -> list[SourceSpec]:
    """The named sources to read; ``SourceError`` for a path that does not exist."""
    specs = named_sources(config.sources)
    for spec in specs:
        parsed = parse_source(spec.source)
        if not is_stream(parsed) and not Path(parsed).exists():
            raise SourceError(f"video file or folder not found: {parsed}")
    return specs


def _file_stem(spec: SourceSpec) -> str:
    """A file name for ``spec``'s video: its name, or the stem of an unnamed file source."""
    base = Path(spec.name).stem if spec.name == spec.source else spec.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("._") or "source"


def video_paths(output: str | None, specs: list[SourceSpec]) -> dict[str, Path]:
    """``{source name: video path}`` for ``--output`` (empty without it), folders created."""
    if not output:
        return {}
    if len(specs) == 1:
        return {specs[0].name: check_video_path(output)}
    folder = Path(output)
    if folder.suffix.lower() in VIDEO_SUFFIXES or (folder.exists() and not folder.is_dir()):
        raise UsageError(f"--output {folder}: with {len(specs)} sources, give a folder: one video per source "
                         f"is written in it")
    paths: dict[str, Path] = {}
    for spec in specs:
        stem, n = _file_stem(spec), 2
        path = folder / f"{stem}.mp4"
        while path in paths.values():
            path, n = folder / f"{stem}-{n}.mp4", n + 1
        paths[spec.name] = check_video_path(path)
    return paths


class SourceOpener:
    """Opens each source as a :class:`Camera` in ``stack``: the live ones in ``open_live`` (before the
    models), the rest in ``open_rest``. ``opener`` replaces ``cv2.VideoCapture`` (tests)."""

    def __init__(self, specs: list[SourceSpec], config: CameraConfig, stack: ExitStack,
                 opener: Callable | None = None) -> None:
        self.specs, self.stack, self.opener = specs, stack, opener
        live = config.pace or any(is_stream(spec.source) for spec in specs)
        self.config = dataclasses.replace(config, pace=True) if live else config
        self.cameras: dict[str, Camera] = {}
        self.first: dict[str, Frame] = {}  # files and folders: the first frame, probed

    def open_live(self) -> None:
        """Open the cameras and streams, and probe the files and folders for a first frame. A stream
        serving a recording (a video file over HTTP) is probed like a file, and opened again later:
        it starts playing when the models are ready."""
        for spec in self.specs:
            if is_stream(spec.source):
                camera = self.stack.enter_context(Camera(spec.source, self.config, self.opener))
                if not camera.recorded:
                    self.cameras[spec.name] = camera
                    continue
                camera.close()
            self.first[spec.name] = first_frame(spec.source, self.config, self.opener)

    def newest(self) -> dict[str, Frame | None]:
        """Each source's newest frame before the run (shown while the models load): a camera's or
        a stream's newest (``None`` before its first), a file's or a folder's first."""
        return {spec.name: self.cameras[spec.name].newest() if spec.name in self.cameras else self.first.get(spec.name)
                for spec in self.specs}

    def open_rest(self) -> dict[str, Camera]:
        """Open the files and folders; returns every camera, in the order of the sources."""
        for spec in self.specs:
            if spec.name not in self.cameras:
                self.cameras[spec.name] = self.stack.enter_context(Camera(spec.source, self.config, self.opener))
        return {spec.name: self.cameras[spec.name] for spec in self.specs}
