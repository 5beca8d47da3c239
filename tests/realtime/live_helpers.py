"""Shared by the live loop's tests: who is enrolled, and the arguments that select facenet."""

from __future__ import annotations

from helpers import FACENET_H5

ENROLL_DIRS = ("obama-biden/enroll/obama", "obama-biden/enroll/biden",
               "hamilton-whitehouse/enroll/alex_lacamoire", "hamilton-whitehouse/enroll/lin_manuel_miranda")
ENROLLED = ("alex_lacamoire", "biden", "lin_manuel_miranda", "obama")


def facenet_sets() -> list[str]:
    """``--set`` arguments selecting the facenet backbone, as the test bundle was trained with it."""
    return ["--set", "backbone.name=facenet", "--set", f"backbone.weights={FACENET_H5}"]
