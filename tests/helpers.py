"""Helpers for tests: where the real data lives, copying it, running the commands, a private
virtual screen."""

from __future__ import annotations

import os
import secrets
import select
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
FACENET_H5 = SHARED / "models" / "facenet_keras.h5"
VIDEOS = DATA / "videos"


def need(path: Path) -> Path:
    """Skip the calling test when ``path`` (from ../shared) is absent."""
    if not path.exists():
        pytest.skip(f"{path} not found: the real test data in ../shared is absent")
    return path


def write_clip(source: Path, dest: Path, frames: int | None = None, times: int = 1) -> Path:
    """A video file at ``dest`` (mp4v, ``source``'s size and rate) holding the first ``frames``
    frames of the real clip ``source`` (all when ``None``), played ``times`` times over."""
    import itertools

    import cv2

    from facecore.camera import Camera

    with Camera(str(source)) as camera:
        images = [cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR) for f in itertools.islice(camera, frames)]
        fps = camera.fps
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for _ in range(times):
        for image in images:
            writer.write(image)
    writer.release()
    return dest


def join_clips(first: Path, second: Path, dest: Path, frames: int) -> Path:
    """A video file at ``dest`` (mp4v, ``first``'s size and rate): the first ``frames`` frames of the
    real clip ``first``, then the first ``frames`` of ``second`` resized to that size: one scene cut,
    at frame ``frames``."""
    import itertools

    import cv2

    from facecore.camera import Camera

    with Camera(str(first)) as camera:
        images = [cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR) for f in itertools.islice(camera, frames)]
        fps = camera.fps
    h, w = images[0].shape[:2]
    with Camera(str(second)) as camera:
        images += [cv2.resize(cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR), (w, h), interpolation=cv2.INTER_AREA)
                   for f in itertools.islice(camera, frames)]
    writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for image in images:
        writer.write(image)
    writer.release()
    return dest


def copy_people(dest: Path, people: dict[str, list[Path]]) -> Path:
    """Copy ``{name: [files]}`` into ``dest/<name>/`` (tests never write into ../shared)."""
    for name, files in people.items():
        folder = dest / name
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, folder / f.name)
    return dest


def lfw_people(names_or_count, first: int = 0, last: int = 10) -> dict[str, list[Path]]:
    """``{name: photos[first:last]}`` of lfw-dev people (a list of names, or the first N)."""
    root = need(DATA / "lfw-dev")
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    chosen = names[:names_or_count] if isinstance(names_or_count, int) else list(names_or_count)
    unknown = set(chosen) - set(names)
    assert not unknown, f"not in lfw-dev: {sorted(unknown)}"
    return {n: sorted((root / n).glob("*.jpg"))[first:last] for n in chosen}


def ctrl_c_heard() -> None:
    """``preexec_fn`` of a process that a test stops with SIGINT: SIGINT back to its default, so that
    the process hears it even when the test run itself was started with SIGINT ignored (as a
    background job of a non-interactive shell is)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_command(module: str, *args: str, timeout: float = 600, env: dict | None = None, cwd=None):
    """Run ``python -m module args`` as a real process; returns CompletedProcess (text)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd
    )


@contextmanager
def small_tmpfs(path: Path, size: str):
    """A tmpfs of ``size`` (e.g. ``"64k"``) mounted at ``path`` (created) for a disk-full test;
    the calling test is skipped where mounting is not allowed (not root, no privilege)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill it needs root")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def leftovers(*roots: Path) -> list[Path]:
    """Temporary files and folders (``*.tmp*``) left anywhere under ``roots``."""
    return [p for root in roots if root.exists() for p in root.rglob("*") if ".tmp" in p.name]


# the meta.json fields a bundle must have (facecore.bundle_schema), for tests that write bundles by hand
BUNDLE_META = {"backbone": {"name": "vgg16", "input_size": 224, "weights_id": "none", "weights": "none"},
               "head": {"kind": "centroid"}, "crop": {"margin": 0.0, "align": True, "mirror": True},
               "threshold": 0.6}


_COOKIE_NAME = b"MIT-MAGIC-COOKIE-1".hex()


@contextmanager
def virtual_screen(folder: Path, size: str = "1280x720x24", timeout: float = 60) -> Iterator[dict]:
    """A private Xvfb server; yields the environment (``DISPLAY``, ``XAUTHORITY``) that reaches it.

    The server picks its own free display number (``-displayfd``: it binds each number's
    socket in turn, atomically) and writes it once it accepts connections, so a server
    started at the same moment elsewhere (``xvfb-run -a`` only looks for lock files, then
    starts) can never hand us its screen. The cookie (any display number) is ours, in
    ``folder``; the server is stopped with SIGTERM so that it removes its socket."""
    auth = folder / "xauthority"
    entry = f"ffff 0000  0000  {len(_COOKIE_NAME) // 2:04x} {_COOKIE_NAME} 0010 {secrets.token_hex(16)}\n"
    subprocess.run(["xauth", "-f", str(auth), "nmerge", "-"], input=entry, text=True, check=True,
                   capture_output=True, timeout=30)
    read, write = os.pipe()
    with open(folder / "xvfb.txt", "w") as log:
        server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-auth", str(auth), "-nolisten", "tcp",
                                   "-screen", "0", size], pass_fds=(write,), stdout=log, stderr=log,
                                  start_new_session=True)
    os.close(write)
    try:
        number = _read_display_number(read, server, timeout)
        yield {**os.environ, "DISPLAY": f":{number}", "XAUTHORITY": str(auth)}
    finally:
        os.close(read)
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def _read_display_number(fd: int, server: subprocess.Popen, timeout: float) -> int:
    """The number Xvfb writes on ``fd`` once it is ready; fails when it ends or is late."""
    text, deadline = b"", time.monotonic() + timeout
    while not text.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            pytest.fail(f"Xvfb gave no display number within {timeout:.0f} s")
        chunk = os.read(fd, 16)
        if not chunk:
            pytest.fail(f"Xvfb ended before it was ready (exit code {server.poll()})")
        text += chunk
    return int(text)
