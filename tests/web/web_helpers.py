"""Shared by the web app's tests: the browser's whereabouts, the test password, reading a page's CSRF token."""

from __future__ import annotations

import os
import re

__all__ = ["CHROMIUM", "PASSWORD", "browser_missing", "csrf_of", "fill_events"]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) for the browser tests"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]'): the browser tests need it"
    return ""


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (its meta tag, or a form's hidden field)."""
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def fill_events(workspace, people: dict[str, int], source: str = "door", when: str = "2026-12-07T09:00:00+00:00") -> list[str]:
    """An event database in ``workspace`` (``data/events.db``) with ``people[name]`` events of each
    name, one track each, a minute apart from ``when``, each with a kept face (``data/faces``);
    returns the face ids, in the order written."""
    from datetime import datetime, timedelta

    import numpy as np

    from facecore.eventdb import EventDb
    from facecore.facestore import FaceStore, StoredFace, new_face_id
    from facecore.images import encode_jpeg

    start, store, ids = datetime.fromisoformat(when), FaceStore(workspace / "data" / "faces"), []
    db = EventDb(workspace / "data" / "events.db")
    track = 0
    try:
        for name, count in people.items():
            for _ in range(count):
                track += 1
                at = start + timedelta(minutes=track)
                face_id = new_face_id(at)
                store.add(StoredFace(face_id, at.isoformat(), source, track, track, name),
                          encode_jpeg(np.full((32, 32, 3), 40 * track % 256, np.uint8)))
                db.record({"time": at.isoformat(timespec="milliseconds"), "name": name, "confidence": "0.9",
                           "track": str(track), "frame": str(track), "source_time": "", "x1": "1", "y1": "2",
                           "x2": "30", "y2": "31", "source": source, "snapshot": f"data/faces/{face_id}.jpg"})
                ids.append(face_id)
    finally:
        db.close()
    return ids
