"""The Live page's feed: face-live's views, each source's newest picture JPEG-encoded once per
update whatever the number of viewers, handed to every page that shows that source.

One :class:`LiveFeed` per app reads the hub's :data:`~realtime.events.hub.VIEW` records on its own
thread, and sends at most ``web.live_fps`` views a second per source: a view that comes
sooner waits for its turn, replaced by any newer one, and only the views sent are encoded.
While at least one page views a source, it watches that source on the hub
(:meth:`~realtime.events.hub.Hub.watch`: only then do its views carry the picture); the last page
leaving stops it, so a run nobody looks at copies and encodes nothing.

A packet is ``uint32`` (big-endian) header length, the header as UTF-8 JSON (the view's
boxes, names, confidences, tracks, stale marks, the picture's ``width``/``height``, ``picture``:
whether a JPEG follows), then the JPEG. Each :class:`Viewer` keeps only the newest packet per
source: a page that falls behind skips frames and never holds up the feed, let alone
recognition (the feed's own hub queue drops its oldest views when it falls behind).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import struct
import threading
import time
from typing import Callable, Iterable

import cv2
import numpy as np

from realtime.events.hub import VIEW, Hub

__all__ = ["LiveFeed", "Viewer", "packet", "read_packet"]

log = logging.getLogger(__name__)
_FIELDS = ("source", "frame", "time_s", "boxes", "names", "confidences", "tracks", "stale")


def _jpeg(picture: np.ndarray, quality: int, max_side: int) -> bytes:
    """``picture`` (RGB) as JPEG, shrunk first so that its longer side is at most ``max_side`` (0: as it is)."""
    scale = max_side / max(picture.shape[:2]) if max_side else 1.0
    if scale < 1.0:
        size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes() if ok else b""


def packet(view: dict, quality: int, size: tuple[int, int] | None = None,
           max_side: int = 0) -> tuple[bytes, tuple[int, int] | None]:
    """The packet of one VIEW record (its picture, if any, encoded once, its longer side at most
    ``max_side``) and the frame's ``(w, h)`` (``size``, the last one known, when the view carries
    none); the header's ``width``/``height`` are the frame's, in which the boxes are."""
    header = {k: view.get(k) for k in _FIELDS}
    picture = view.get("picture")
    jpeg = b""
    if isinstance(picture, np.ndarray) and picture.ndim == 3:
        jpeg = _jpeg(picture, quality, max_side)
        size = (int(picture.shape[1]), int(picture.shape[0]))
    header["picture"] = bool(jpeg)
    header["width"], header["height"] = size or (0, 0)
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(text)) + text + jpeg, size


def read_packet(data: bytes) -> tuple[dict, bytes]:
    """``(header, jpeg)`` of a packet (what the page's JavaScript does; for tests and tools)."""
    (length,) = struct.unpack(">I", data[:4])
    return json.loads(data[4:4 + length]), data[4 + length:]


class Viewer:
    """One page's queue: the newest packet of each source it views (older ones are replaced)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sources: Iterable[str]) -> None:
        self.loop, self.sources = loop, frozenset(sources)
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}
        self._ready = asyncio.Event()
        self.skipped = 0  # packets replaced before this page took them
        self.closed = False

    def offer(self, source: str, data: bytes) -> None:
        """From the feed's thread: hand over ``source``'s newest packet."""
        with self._lock:
            self.skipped += source in self._pending
            self._pending[source] = data
        try:
            self.loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:  # the page's event loop is gone
            self.closed = True

    def close(self) -> None:
        self.closed = True
        try:
            self.loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:
            pass

    async def next(self) -> list[bytes]:
        """The packets waiting (one per source), waiting for one if none is; ``[]`` once closed."""
        while not self.closed:
            with self._lock:
                taken, self._pending = list(self._pending.values()), {}
            if taken:
                return taken
            self._ready.clear()
            with self._lock:
                if self._pending:
                    continue
            await self._ready.wait()
        return []


class LiveFeed:
    """Reads ``hub``'s views on a thread, encodes each watched source's newest picture once, and
    hands the packets to the :class:`Viewer` of every page that views the source."""

    def __init__(self, hub: Hub, quality: int = 80, fps: float = 15.0, max_side: int = 0, maxsize: int = 64) -> None:
        self.hub, self.quality, self.interval, self.max_side = hub, quality, 1.0 / fps, max_side
        self._sent_at: dict[str, float] = {}
        self.encoded = 0  # pictures encoded (one per update of a watched source)
        self._lock = threading.Lock()
        self._viewers: set[Viewer] = set()
        self._unwatch: dict[str, tuple[int, Callable[[], None]]] = {}
        self._latest: dict[str, bytes] = {}
        self._sizes: dict[str, tuple[int, int] | None] = {}
        self._subscription = hub.subscribe([VIEW], maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name="facecam-web-feed", daemon=True)
        self._thread.start()

    def join(self, viewer: Viewer) -> None:
        """Start handing ``viewer`` its sources' packets (the newest known at once); watch them."""
        with self._lock:
            self._viewers.add(viewer)
            for source in viewer.sources:
                count, unwatch = self._unwatch.get(source, (0, None))
                self._unwatch[source] = (count + 1, unwatch or self.hub.watch(source))
            latest = {s: self._latest[s] for s in viewer.sources if s in self._latest}
        for source, data in latest.items():
            viewer.offer(source, data)

    def leave(self, viewer: Viewer) -> None:
        """Stop handing ``viewer`` packets; a source no page views any more is no longer watched."""
        with self._lock:
            if viewer not in self._viewers:
                return
            self._viewers.discard(viewer)
            for source in viewer.sources:
                count, unwatch = self._unwatch[source]
                if count > 1:
                    self._unwatch[source] = (count - 1, unwatch)
                else:
                    del self._unwatch[source]
                    unwatch()
        viewer.close()

    def watched(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._unwatch)

    def close(self) -> None:
        self._subscription.close()
        self._thread.join(5.0)

    def _newest(self) -> dict[str, dict] | None:
        """The newest view of each source among those waiting (waits for one, at most a frame
        interval); ``None`` once closed."""
        first = self._subscription.get(timeout=min(1.0, self.interval))
        if first is None:
            return None if self._subscription.closed else {}
        newest = {first.record.get("source"): first.record}
        for _ in range(self._subscription.pending()):
            message = self._subscription.get(timeout=0)
            if message is None:
                break
            newest[message.record.get("source")] = message.record
        return newest

    def _run(self) -> None:
        held: dict[str, dict] = {}  # the newest view of each source, until its turn comes
        while (newest := self._newest()) is not None:
            held.update(newest)
            now = time.monotonic()
            for source in [s for s in held if now - self._sent_at.get(s, -math.inf) >= self.interval]:
                try:
                    self._send(str(source), held.pop(source), now)
                except Exception:  # one bad view never ends the feed
                    log.exception("the live feed could not send a view of %s", source)

    def _send(self, source: str, view: dict, now: float) -> None:
        with self._lock:
            viewers = [v for v in self._viewers if source in v.sources]
        if not viewers:
            return
        self._sent_at[source] = now
        data, size = packet(view, self.quality, self._sizes.get(source), self.max_side)
        self.encoded += "picture" in view
        with self._lock:
            self._sizes[source] = size
            self._latest[source] = data
        for viewer in viewers:
            viewer.offer(source, data)
