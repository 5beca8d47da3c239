"""Scene cuts: where a source jumps from one shot to another.

A cheap whole-frame measure, taken on every frame a source shows: the frame is shrunk to a
64x36 thumbnail and its colour histogram (32 bins per channel) is compared with the previous
frame's. The distance is the total variation between the two, averaged over the channels: 0
for the same colours, 1 for colours that share nothing. A frame further than ``threshold`` from
the frame before it begins a new shot. Motion within a shot moves pixels but hardly changes
their colours; a cut changes them at once (figures: ``python -m bench.cuts``, in
docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
from collections import deque

import cv2
import numpy as np

from facecore.camera import Frame
from facecore.config import CameraConfig

__all__ = ["CutWatch", "signature", "distance", "THUMBNAIL", "BINS", "TOO_MANY_PER_S"]

log = logging.getLogger(__name__)

THUMBNAIL = (64, 36)  # width, height of the thumbnail the measure is taken on
BINS = 32  # histogram bins per colour channel
_RECENT = 64  # cut positions remembered (the display asks about the last few)
TOO_MANY_PER_S = 1.0  # more cuts than this per second of source time: the threshold is too low (warned once)
_TOO_MANY_MIN = 10  # ... once at least this many were found


def signature(image: np.ndarray) -> np.ndarray:
    """``(3 * BINS,)`` float32: the colour histogram of ``image`` (``(h, w, 3)`` uint8, any colour
    order) at thumbnail size, each channel's part summing to 1. The thumbnail averages a sample of
    the frame's pixels (every ``step``-th row and column, at most 4x the thumbnail's width)."""
    step = max(1, image.shape[1] // (4 * THUMBNAIL[0]))  # every step-th pixel first: a large frame costs no more
    small = np.ascontiguousarray(image[::step, ::step])
    thumb = cv2.resize(small, THUMBNAIL, interpolation=cv2.INTER_AREA).reshape(-1, 3)
    bins = thumb.astype(np.int64) * BINS // 256 + np.arange(3) * BINS
    return (np.bincount(bins.ravel(), minlength=3 * BINS) / len(thumb)).astype(np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation between two :func:`signature`\\ s, averaged over the channels: 0..1."""
    return float(np.abs(a - b).sum() / 6.0)


class CutWatch:
    """Finds the cuts of one source. ``see(frame)`` measures each frame once, in source order
    (a frame not newer than the last one seen is ignored); ``between(a, b)`` says whether a cut
    was found after frame ``a`` up to frame ``b``. ``threshold`` 0: no frame is ever a cut.
    A threshold that cuts more than ``TOO_MANY_PER_S`` times a second of the source (``name``)
    is warned about once, naming the setting: every cut ends every track, so hardly a face
    would ever be named.

    Thread-safe: the display may see frames while the recognition step asks about them.
    """

    def __init__(self, threshold: float, name: str = "") -> None:
        self.threshold, self.name = threshold, name
        self.count = 0  # cuts found so far
        self._first_time: float | None = None  # source time of the first frame seen, seconds
        self._warned = False
        self._lock = threading.Lock()
        self._last = -1  # index of the last frame seen
        self._signature: np.ndarray | None = None
        self._cuts: deque[int] = deque(maxlen=_RECENT)  # indices of the first frames of new shots

    def see(self, frame: Frame) -> bool:
        """Measure ``frame`` against the frame seen before it; ``True`` when it begins a new shot."""
        if self.threshold <= 0:
            return False
        with self._lock:
            if frame.index <= self._last:
                return False
            current = signature(frame.image)
            cut = self._signature is not None and distance(self._signature, current) > self.threshold
            self._last, self._signature = frame.index, current
            if self._first_time is None:
                self._first_time = frame.time_s
            if cut:
                self._cuts.append(frame.index)
                self.count += 1
                self._warn_if_too_many(frame.time_s - self._first_time)
            return cut

    def _warn_if_too_many(self, seconds: float) -> None:
        """Warn once when the cuts found in ``seconds`` of source time come more than once a second."""
        if self._warned or self.count < _TOO_MANY_MIN or self.count <= TOO_MANY_PER_S * seconds:
            return
        self._warned = True
        source = f"source {self.name}: " if self.name else ""
        log.warning("%scamera.cut_threshold = %g found %d scene cuts in %.1f s of video, more than one a second: "
                    "each cut forgets every face, so hardly anyone can be named; raise it (default %g), "
                    "or set 0 to turn cut detection off", source, self.threshold, self.count, seconds,
                    CameraConfig().cut_threshold)

    def between(self, after: int, upto: int) -> bool:
        """Whether a shot began at a frame index in ``(after, upto]``."""
        with self._lock:
            return any(after < index <= upto for index in self._cuts)
