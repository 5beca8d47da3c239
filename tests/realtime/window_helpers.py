"""Driving the real window: face-live under Xvfb, screenshots, keys, the `s` key's picture."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest

from helpers import REPO, virtual_screen

TOOLS = ("Xvfb", "xauth", "xdotool", "import")


def need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (xvfb, xdotool, imagemagick) to drive a real window")


def screenshot(env: dict, path: Path) -> np.ndarray | None:
    done = subprocess.run(["import", "-window", "root", str(path)], env=env, capture_output=True, timeout=30)
    image = cv2.imread(str(path)) if done.returncode == 0 else None
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def x_env(info: Path) -> dict | None:
    lines = info.read_text().splitlines() if info.exists() else []
    if len(lines) < 2:
        return None
    return {**os.environ, "DISPLAY": lines[0], "XAUTHORITY": lines[1]}


@contextmanager
def under_xvfb(command: list[str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """Run ``command`` on a private 1280x720 virtual screen (:func:`virtual_screen`); yields the
    process and the file holding the display's ``DISPLAY`` and ``XAUTHORITY`` (read it with
    :func:`x_env`). The process group is killed afterwards if still running; its stderr goes
    to ``tmp_path/err.txt``."""
    info = tmp_path / "x-display.txt"
    with virtual_screen(tmp_path) as env, open(tmp_path / "err.txt", "w") as err:
        info.write_text(f"{env['DISPLAY']}\n{env['XAUTHORITY']}\n")
        proc = subprocess.Popen(command, env={**env, "PYTHONPATH": str(REPO)}, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            yield proc, info
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def window_ids(env: dict) -> list[str]:
    """The X ids of the windows titled facecam (none before face-live has opened its window)."""
    return subprocess.run(["xdotool", "search", "--name", "^facecam$"], env=env, capture_output=True,
                          text=True, timeout=30).stdout.split()


def press(env: dict, *keys: str) -> None:
    """Press ``keys`` in the window titled facecam."""
    window = window_ids(env)
    assert window, "the window titled facecam was not found"
    for key in keys:
        subprocess.run(["xdotool", "windowfocus", "--sync", window[0], "key", key], env=env, timeout=30, check=True)


def wait_for_png(folder: Path, proc, timeout: float = 20) -> Path:
    """The first ``facecam-*.png`` the `s` key saved in ``folder``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = sorted(folder.glob("facecam-*.png")) if folder.is_dir() else []
        if found:
            time.sleep(0.5)  # let the write finish
            return found[0]
        time.sleep(0.2)
    pytest.fail(f"no snapshot appeared in {folder} after the s key")
