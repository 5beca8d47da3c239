"""Small pieces for the reliability tests, importable by the real processes they start
(numpy and facecam only: no pytest, no TensorFlow)."""

from __future__ import annotations

import numpy as np

from facecore.faces import Faces
from realtime.pipeline import Snapshot


def snap(name: str, track: int, frame: int) -> Snapshot:
    """One fresh face named ``name`` on track ``track``, at ``frame`` of a 30 fps source."""
    faces = Faces(np.array([[10, 20, 60, 90]], np.float32), names=[name], confidences=np.array([0.8]),
                  track_ids=[track])
    return Snapshot(frame, frame / 30, faces, stale=np.zeros(1, bool), fresh=np.ones(1, bool))
