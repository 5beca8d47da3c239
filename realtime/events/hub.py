"""The hub: what face-live did, published once, heard by any number of consumers.

The writer (the one place that writes the CSV log, the face store and the event database)
publishes a :class:`Message` for each thing that happened: ``sighting`` (a row was logged:
its cells, and the event it belongs to), and the engine's per-step ``view`` of each source
for pages that show the live picture. Consumers (the event database is written by the
writer itself; webhooks, MQTT, a web page) :meth:`Hub.subscribe` and read their own bounded
queue. Publishing never blocks and never fails: a consumer that falls behind loses its
*oldest* messages (counted in :attr:`Subscription.dropped`), so a slow or stuck consumer can
never slow recognition or the log.

Messages are plain data (``kind`` and a ``record`` dict of JSON-able values, or arrays for a
``view``): a consumer never reaches into the engine.

Pictures cost: a ``view`` carries its source's frame (``"picture"``: the RGB ``uint8`` array, shared,
never to be modified) only while some consumer watches that source (:meth:`Hub.watch`), so that a
run nobody is looking at copies and encodes nothing (under ``--engine ray``, a camera sends
its frames only then).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

__all__ = ["Hub", "Subscription", "Message", "SIGHTING", "VIEW"]

SIGHTING = "sighting"  # a CSV row was written: record = its cells + "event" (the event database's id, or None)
VIEW = "view"  # the newest picture and faces of a source (for live pages)


@dataclass(frozen=True)
class Message:
    """One thing that happened: ``kind`` (:data:`SIGHTING`, :data:`VIEW`, ...), its ``record``,
    and ``time`` (``time.time()`` when published)."""

    kind: str
    record: dict[str, Any]
    time: float = field(default_factory=time.time)


class Subscription:
    """A consumer's queue of at most ``maxsize`` messages of the ``kinds`` it asked for (all
    when empty). Read it with :meth:`get` or by iterating; :meth:`close` ends it."""

    def __init__(self, hub: "Hub", kinds: frozenset[str], maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._hub, self.kinds, self.maxsize = hub, kinds, maxsize
        self._queue: deque[Message] = deque()
        self._ready = threading.Condition()
        self.dropped = 0  # messages lost because this consumer fell behind
        self.closed = False

    def _offer(self, message: Message) -> None:
        if self.kinds and message.kind not in self.kinds:
            return
        with self._ready:
            if self.closed:
                return
            if len(self._queue) >= self.maxsize:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(message)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Message | None:
        """The oldest waiting message; waits up to ``timeout`` seconds (``None``: until one comes
        or the subscription is closed). ``None`` when none came, or once closed and emptied."""
        with self._ready:
            if not self._queue and not self.closed:
                self._ready.wait_for(lambda: self._queue or self.closed, timeout)
            return self._queue.popleft() if self._queue else None

    def pending(self) -> int:
        """How many messages wait to be read."""
        with self._ready:
            return len(self._queue)

    def __iter__(self) -> Iterator[Message]:
        """The messages until the subscription is closed (waits for each)."""
        while True:
            message = self.get()
            if message is None:
                return
            yield message

    def close(self) -> None:
        """Stop receiving; a reader waiting in :meth:`get` wakes up (messages already queued can
        still be read)."""
        with self._ready:
            self.closed = True
            self._ready.notify_all()
        self._hub._forget(self)


class Hub:
    """In-process publish/subscribe with a bounded queue per subscriber (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._watchers: dict[str, int] = {}
        self.published = 0

    def watch(self, source: str) -> Callable[[], None]:
        """Ask for ``source``'s pictures in its views from now on; call the returned function (once)
        to stop. Any number of watchers may share a source."""
        with self._lock:
            self._watchers[source] = self._watchers.get(source, 0) + 1
        done = threading.Event()

        def unwatch() -> None:
            if done.is_set():
                return
            done.set()
            with self._lock:
                left = self._watchers.get(source, 0) - 1
                if left > 0:
                    self._watchers[source] = left
                else:
                    self._watchers.pop(source, None)

        return unwatch

    def watched(self, source: str) -> bool:
        """Whether some consumer wants ``source``'s pictures now."""
        with self._lock:
            return source in self._watchers

    def watching(self) -> frozenset[str]:
        """The sources whose pictures are wanted now."""
        with self._lock:
            return frozenset(self._watchers)

    def subscribe(self, kinds: Iterable[str] = (), maxsize: int = 1000) -> Subscription:
        """A new queue of the messages of ``kinds`` (all when empty) published from now on."""
        subscription = Subscription(self, frozenset(kinds), maxsize)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def publish(self, kind: str, record: dict[str, Any]) -> Message:
        """Hand ``record`` to every subscriber of ``kind``; never blocks, never raises."""
        message = Message(kind, record)
        with self._lock:
            subscriptions = list(self._subscriptions)
            self.published += 1
        for subscription in subscriptions:
            subscription._offer(message)
        return message

    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def close(self) -> None:
        """Close every subscription (their readers wake up and end)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()

    def _forget(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
