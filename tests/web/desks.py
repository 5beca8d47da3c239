"""Workspaces for the People and Review tests: real LFW photos, faces kept as face-live keeps them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from facecore.csvlog import CsvLog
from facecore.facestore import FaceStore, StoredFace, new_face_id
from facecore.workspace import in_workspace

START = datetime.now(timezone.utc) - timedelta(hours=2)


def workspace_config(facenet_config, root: Path):
    """``facenet_config`` with every storage path inside ``root``; LFW faces are small (about 50 px
    across in a 250 px photo): the size rule is set to let them in, as the review tests do."""
    return in_workspace(facenet_config.replace(capture={"min_face_px": 40}), root)


def keep_faces(config, paths: list, features=None, tag: str = "") -> FaceStore:
    """The photos as strangers' faces face-live kept, one a minute, one track each (``features``:
    their vectors, or ``None`` for faces kept before anyone was enrolled), with their CSV rows."""
    store = FaceStore(config.faces.folder)
    Path(config.log.path).parent.mkdir(parents=True, exist_ok=True)
    with CsvLog(config.log.path) as log:
        for i, path in enumerate(paths):
            when = START + timedelta(minutes=i)
            vector = None if features is None else features[i]
            face = StoredFace(new_face_id(when), when.isoformat(), "cam", i, i, "unknown", 0.5,
                              (0, 0, 250, 250), {"score": 0.5 + i / 1000}, vector, tag)
            snapshot = store.add(face, Path(path).read_bytes())
            log.append({"time": face.time, "name": "unknown", "track": i, "source": face.source,
                        "snapshot": str(snapshot)})
    return store
