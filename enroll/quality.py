"""The enrollment quality gate: is this frame a good, new image of the person?

The pure measures of one face (head pose from the 5 landmarks, sharpness, brightness,
a thumbnail for near-duplicate checks) live in :mod:`facecore.quality`, shared with the
live face store, and are re-exported here. :class:`Gate` applies every ``[capture]``
rule in a fixed order and says why a frame is rejected: in words for the person in
front of the camera, or, for photos, what is wrong with the photo (the measure, the
limit and its setting).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from facecore.config import CaptureConfig
from facecore.faces import Faces
from facecore.quality import brightness, estimate_pose, face_patch, sharpness, similarity, thumbnail

__all__ = [
    "POSES", "HINTS", "Verdict", "Gate", "estimate_pose", "pose_name", "pose_quotas",
    "sharpness", "brightness", "thumbnail", "similarity", "face_patch",
]

POSES = ("frontal", "left", "right", "up", "down")
HINTS = {
    "frontal": "look straight at the camera",
    "left": "turn a little left",
    "right": "turn a little right",
    "up": "look a little up",
    "down": "look a little down",
}
# What each rule says when it rejects a face (the verdict's ``code`` names the rule): to the
# person in front of the camera, and about a photo, as "what is wrong: measure, limit (setting)".
_LIVE = {
    "no_face": "no face",
    "faces": "more than one face",
    "unsure": "detection not confident",
    "small": "face too small: come closer",
    "dark": "too dark",
    "bright": "too bright",
    "blurred": "too blurred: hold still",
    "waiting": "waiting between captures",
    "pose": "{hint}",
    "duplicate": "too similar to a kept image: move a little",
}
_PHOTO = {
    "no_face": "no face found",
    "faces": "{n} faces of similar size",
    "unsure": "face unclear: detection score {value:.2f}, needs {need:.2f} (capture.min_score)",
    "small": "face too small: {value:.0f} px, needs {need} (capture.min_face_px)",
    "dark": "too dark: face brightness {value:.0f}, needs at least {need:.0f} (capture.min_brightness)",
    "bright": "too bright: face brightness {value:.0f}, needs at most {need:.0f} (capture.max_brightness)",
    "blurred": "blurred: face sharpness {value:.0f}, needs {need:.0f} (capture.min_sharpness)",
    "waiting": "waiting between captures",
    "pose": "pose already covered: {pose}; still wanted: {missing}",
    "duplicate": "near-duplicate: similarity {value:.2f} to a kept photo, above {need:.2f} (capture.max_similarity)",
}
_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five"}  # faces in a photo, in words


def pose_name(yaw: float, pitch: float, yaw_deg: float, pitch_deg: float) -> str:
    """One of :data:`POSES`; the larger of the two turns (relative to its limit) wins."""
    yaw_part = abs(yaw) / yaw_deg if yaw_deg > 0 else 0.0
    pitch_part = abs(pitch) / pitch_deg if pitch_deg > 0 else 0.0
    if max(yaw_part, pitch_part) < 1.0:
        return "frontal"
    if yaw_part >= pitch_part:
        return "left" if yaw > 0 else "right"
    return "up" if pitch > 0 else "down"


def pose_quotas(count: int) -> dict[str, int]:
    """The fewest images of each pose a session of ``count`` asks for.

    ``count`` 10 -> one of each of the five poses (the other five slots take any
    pose); 20 -> two of each; fewer than 5 -> no pose is required.
    """
    each = 0 if count < len(POSES) else max(1, count // 10)
    return {pose: each for pose in POSES}


@dataclass(frozen=True)
class Verdict:
    """``ok`` with ``reason == ""``, or a rejection with a short reason for the person (a
    :class:`Gate` for photos: what is wrong with the photo) and the rule's ``code``.

    ``faces``: the single face when there is one; ``pose`` its pose name;
    ``thumb`` its thumbnail once the near-duplicate rule passed (kept by :meth:`Gate.accept`)."""

    ok: bool
    reason: str = ""
    faces: Faces | None = None
    pose: str = ""
    thumb: np.ndarray | None = None
    code: str = ""


class Gate:
    """Decides, frame by frame, whether a face is kept; remembers what was kept.

    Rules, in order: exactly one face; detection confident; face big enough;
    neither too dark nor too bright; sharp; ``min_interval_s`` since the last
    capture; pose (``pose_variety``: once the slots left are needed for the poses
    still missing, only those are taken; after ``pose_wait_s`` without a capture
    any pose is, so a person or a clip that cannot turn still finishes); not a
    near-duplicate of a kept image.
    ``photos``: the faces are photos, judged with ``time_s=None``: no interval rule, a pose
    rule that never gives in, and reasons that say what is wrong with the photo.
    """

    def __init__(self, config: CaptureConfig, count: int | None = None, use_pose: bool | None = None,
                 photos: bool = False) -> None:
        self.config = config
        self.count = count if count is not None else config.count
        self.use_pose = config.pose_variety if use_pose is None else use_pose
        self.photos = photos
        self.quotas = pose_quotas(self.count)
        self.poses: Counter = Counter()
        self.kept: list[np.ndarray] = []
        self.last_time: float | None = None
        self.start_time: float | None = None

    @property
    def accepted(self) -> int:
        return sum(self.poses.values())

    def missing_pose(self) -> str | None:
        """The first pose still wanted, in the order of :data:`POSES` (None when all are there)."""
        return next((p for p in POSES if self.poses[p] < self.quotas[p]), None)

    def too_soon(self, time_s: float | None) -> bool:
        """True while ``min_interval_s`` has not passed since the last capture."""
        if self.photos or time_s is None or self.last_time is None:
            return False
        return time_s - self.last_time < self.config.min_interval_s

    def seed(self, image: np.ndarray, faces: Faces) -> None:
        """Remember an image kept earlier (another session) for the near-duplicate rule only."""
        if len(faces):
            self.kept.append(thumbnail(face_patch(image, faces)))

    def judge(self, image: np.ndarray, faces: Faces, time_s: float | None, manual: bool = False) -> Verdict:
        """All the rules at once, the near-duplicate rule measured on ``image`` itself."""
        verdict = self.check(image, faces, time_s, manual)
        return self.check_new(verdict, thumbnail(face_patch(image, faces))) if verdict.ok else verdict

    def check_new(self, verdict: Verdict, thumb: np.ndarray) -> Verdict:
        """The near-duplicate rule, for a candidate that passed :meth:`check`. ``thumb`` is
        best measured on the saved image, where the face is found at full resolution."""
        alike = similarity(thumb, self.kept)
        if alike > self.config.max_similarity:
            return self._reject("duplicate", verdict.faces, verdict.pose, value=alike, need=self.config.max_similarity)
        return Verdict(True, "", verdict.faces, verdict.pose, thumb)

    def _reject(self, code: str, faces: Faces | None = None, pose: str = "", **values) -> Verdict:
        """A rejection by the rule ``code``, worded for a photo or for the person at the camera."""
        words = (_PHOTO if self.photos else _LIVE)[code]
        return Verdict(False, words.format(pose=pose, **values), faces, pose, code=code)

    def check(self, image: np.ndarray, faces: Faces, time_s: float | None, manual: bool = False) -> Verdict:
        """Every rule but the near-duplicate one (see :meth:`check_new`) on ``faces`` found in RGB
        ``image``; ``ok`` means a candidate. ``manual`` skips the interval rule."""
        c = self.config
        if len(faces) == 0:
            return self._reject("no_face")
        # someone far behind (a face under min_face_px and under half the largest) could never be
        # taken for the subject; any other face makes it unclear whose photo this is
        subject = int(np.argmax(faces.sizes))
        counted = (faces.sizes >= c.min_face_px) | (faces.sizes >= 0.5 * faces.sizes[subject])
        if counted.sum() > 1:
            return self._reject("faces", n=_COUNTS.get(int(counted.sum()), int(counted.sum())))
        faces = faces[subject]
        if faces.scores[0] < c.min_score:
            return self._reject("unsure", faces, value=faces.scores[0], need=c.min_score)
        if faces.sizes[0] < c.min_face_px:
            return self._reject("small", faces, value=faces.sizes[0], need=c.min_face_px)
        grey = face_patch(image, faces)
        level = brightness(grey)  # before sharpness: a dark face has no contrast and reads as blurred
        if level < c.min_brightness:
            return self._reject("dark", faces, value=level, need=c.min_brightness)
        if level > c.max_brightness:
            return self._reject("bright", faces, value=level, need=c.max_brightness)
        sharp = sharpness(grey)
        if sharp < c.min_sharpness:
            return self._reject("blurred", faces, value=sharp, need=c.min_sharpness)
        if self.start_time is None and time_s is not None:
            self.start_time = time_s
        if not manual and self.too_soon(time_s):
            return self._reject("waiting", faces)
        pose = pose_name(*estimate_pose(faces.landmarks[0]), c.yaw_deg, c.pitch_deg)
        if self._pose_unwanted(pose, time_s):
            missing = self.missing_pose()
            return self._reject("pose", faces, pose, missing=missing, hint=HINTS[missing])
        return Verdict(True, "", faces, pose)

    def _pose_unwanted(self, pose: str, time_s: float | None) -> bool:
        """True when the free slots are used up and ``pose`` is not one still missing."""
        if not self.use_pose or self.poses[pose] < self.quotas[pose]:
            return False
        deficit = sum(max(0, self.quotas[p] - self.poses[p]) for p in POSES)
        if self.count - self.accepted > deficit:
            return False
        if time_s is None:
            return True
        since = self.last_time if self.last_time is not None else self.start_time
        return since is None or time_s - since < self.config.pose_wait_s

    def accept(self, verdict: Verdict, time_s: float | None) -> None:
        """Record a kept image (its pose and thumbnail, and the capture time)."""
        if not verdict.ok or verdict.thumb is None:
            raise ValueError("only a verdict accepted by check_new or judge can be recorded")
        self.poses[verdict.pose] += 1
        self.kept.append(verdict.thumb)
        if time_s is not None:
            self.last_time = time_s
