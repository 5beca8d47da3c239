"""Project-wide rules: nothing loads pickles or runs code from data files."""

from __future__ import annotations

import re

import pytest

from helpers import REPO

SOURCES = sorted(p for pkg in ("facecore", "enroll", "realtime", "bench") for p in (REPO / pkg).rglob("*.py"))
FORBIDDEN = [
    (r"^\s*(import|from)\s+(pickle|cPickle|dill|joblib|marshal|shelve)\b", "pickle-like module imported"),
    (r"allow_pickle\s*=\s*True", "allow_pickle=True"),
    (r"safe_mode\s*=\s*False", "safe_mode=False"),
    (r"(?<![\w.])(eval|exec)\(", "eval/exec"),
    (r"^\s*except\s*:", "bare except"),
]


def test_sources_were_found():
    assert len(SOURCES) > 10


@pytest.mark.parametrize("pattern, what", FORBIDDEN)
def test_no_unsafe_loading_in_project_code(pattern, what):
    offenders = [
        f"{p.relative_to(REPO)}:{i}"
        for p in SOURCES
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not offenders, f"{what}: {offenders}"


def test_opencv_has_a_gui_backend():
    import cv2

    info = cv2.getBuildInformation()
    gui = re.search(r"GUI:\s*(\S+)", info)
    assert gui and gui.group(1).upper() not in ("NONE", "NO"), "cv2 has no GUI: is opencv-python-headless installed?"
    from importlib import metadata

    names = {d.metadata["Name"].lower() for d in metadata.distributions()}
    assert "opencv-python-headless" not in names
