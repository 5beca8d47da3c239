"""The one writer of a face-live process, on its own thread: the recognition thread never writes
a file.

A step hands :meth:`Writer.record` its result: the events it calls for are made there (pure
bookkeeping, :class:`~realtime.events.records.EventMaker`: the CSV cells and the faces to keep, as plain
records) and queued; the writer's thread applies them in order with the
:class:`~realtime.events.records.EventLog` (CSV log, face store, event database, the daily prune), which
publishes each row written on the hub. The step's view of its source (boxes, names, confidences,
track ids, stale marks; its picture only while a consumer watches it) is published on the hub at
once, by the calling thread:
publishing never blocks, and a live page is not held up behind a prune.

The daily prune runs in a child process (:func:`prune_apart`): reading 10,000 face records and
rewriting the CSV log is Python work that would hold the interpreter's lock against the
recognition thread (measured: a thread reading face records tripled the 99th percentile step
time; a process doing the same raised it by 15 %). The writer's thread does not wait for it: it
goes on applying events meanwhile (an append waits only while the prune swaps the CSV file, under
the log's lock; faces added meanwhile are new, which the prune leaves alone), so no backlog of
steps is applied in a burst after it (docs/benchmarks.md).

The queue holds up to :data:`MAX_QUEUED` steps that called for events (most steps call for none).
It is never a reason to block recognition: when it is full (the disk hangs for minutes), the
oldest step's events are dropped, counted in :attr:`Writer.unwritten` (the run then ends with
exit code 1, as when the CSV log fails) and said once.

:meth:`Writer.close` drains the queue (every row made before it is written) and closes the log.
Under ``--engine ray`` the log actor applies the same :class:`~realtime.events.records.EventLog` itself:
an actor's calls already leave the cameras' threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from facecore.retention import Pruned, prune

from ..engine.pipeline import StepResult
from .hub import VIEW
from .records import Event, EventLog

__all__ = ["Writer", "view_record", "prune_apart", "PendingPrune", "MAX_QUEUED"]

log = logging.getLogger(__name__)
PRUNE_NICE = 19  # the prune's process yields the CPU to recognition
PRUNE_LOOK_S = 0.2  # how often an idle writer looks at whether the prune it started has ended
MAX_QUEUED = 10_000  # steps whose events wait for the writer's thread (the oldest is dropped beyond)


def view_record(result: StepResult) -> dict:
    """A :data:`~realtime.events.hub.VIEW` record of ``result``: plain lists, one entry per face."""
    faces = result.faces
    return {
        "source": result.source, "frame": int(result.frame_index), "time_s": round(float(result.time_s), 3),
        "boxes": [[round(float(v), 1) for v in box] for box in faces.boxes],
        "names": [str(n) for n in faces.names],
        "confidences": [round(float(c), 4) for c in faces.confidences],
        "tracks": [int(t) for t in faces.track_ids],
        "stale": [bool(s) for s in result.carried],  # drawn grey: the box only carried along
    }


class PendingPrune:
    """A prune running in a child process: :meth:`done`, and :meth:`result` (waits; raises its error).
    ``ended``: ``time.perf_counter()`` when it ended (``None`` before)."""

    def __init__(self, future: Future, args: tuple) -> None:
        self.future, self.args, self.ended = future, args, None
        future.add_done_callback(self._end)

    def _end(self, _future) -> None:
        self.ended = time.perf_counter()

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> Pruned:
        store, log_path, config, root = self.args
        try:
            done = self.future.result()
        except BrokenProcessPool as exc:
            log.warning("the prune's child process failed (%s): pruning here", exc)
            return prune(store, log_path, config, root=root)  # which says what it pruned
        if done.faces or done.rows:  # the child's own line does not reach this process's log
            log.info("pruned %d faces and %d CSV rows older than %g days (or beyond %d faces)",
                     done.faces, done.rows, config.retention_days, config.max_faces)
        return done


def prune_apart(store, log_path, config, root=None) -> PendingPrune | Pruned:
    """:func:`facecore.retention.prune`, started in a new child process (spawned: nothing of this
    one's threads is copied; at the lowest CPU priority, :data:`PRUNE_NICE`) and returned at once
    as a :class:`PendingPrune`. When no process can be started, the prune runs here instead."""
    try:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=os.nice,
                                   initargs=(PRUNE_NICE,))
        future = pool.submit(prune, store, log_path, config, None, root)
        pool.shutdown(wait=False)  # its one process ends once the prune is done
    except (OSError, BrokenProcessPool) as exc:
        log.warning("cannot prune in a child process (%s): pruning here", exc)
        return prune(store, log_path, config, root=root)
    return PendingPrune(future, (store, log_path, config, root))


class Writer:
    """Runs ``events`` (an :class:`EventLog`) on its own thread behind a queue of ``maxsize`` steps;
    the same surface as the log for the loop (``record``, ``write``, ``rows``, ``status``...)."""

    def __init__(self, events: EventLog, maxsize: int = MAX_QUEUED) -> None:
        self.events, self.hub, self.maxsize = events, events.hub, maxsize
        events.retain = prune_apart  # from now on, beside recognition
        self.dropped = 0  # rows lost because the queue was full
        self.deepest = 0  # the most steps that ever waited
        self.failure: BaseException | None = None  # what stopped the writer's thread
        self._queue: deque[list[Event]] = deque()
        self._cond = threading.Condition()
        self._closing = self._busy = self._raised = False
        self._thread = threading.Thread(target=self._run, name="facecam-writer", daemon=True)
        self._thread.start()

    @property
    def rows(self) -> int:
        return self.events.rows

    @property
    def unwritten(self) -> int:
        """Rows that were due but are not in the CSV file (queued ones are not counted: they will be)."""
        return self.events.unwritten + self.dropped

    @property
    def error(self) -> str:
        return self.events.error or (str(self.failure) if self.failure is not None else "")

    @property
    def status(self) -> str:
        """A line for the screen while rows are being lost, else ``""``."""
        if self.events.status or not self.dropped:
            return self.events.status
        return f"EVENT LOG BEHIND (rows dropped: {self.dropped})"

    def record(self, result: StepResult, image: np.ndarray) -> int:
        """Publish ``result``'s view, make the events it calls for (``image``: its RGB frame, read
        now and not kept) and queue them; returns the rows due."""
        if self.hub is not None and self.hub.subscribers():
            view = view_record(result)
            if self.hub.watched(result.source):
                view["picture"] = image  # the frame itself, only while someone looks at this source
            self.hub.publish(VIEW, view)
        if self.events.csv is None:
            return 0
        return self.write(self.events.maker.events(result, image))

    def write(self, events: list[Event]) -> int:
        """Queue ``events`` for the writer's thread (never blocks); returns how many rows they hold.
        Raises what stopped the writer's thread, if anything did."""
        self._raise_failure()
        if not events:
            return 0
        with self._cond:
            if len(self._queue) >= self.maxsize:
                lost = self._queue.popleft()
                if not self.dropped:
                    log.warning("the event log is %d steps behind: the oldest events are dropped (counted)",
                                self.maxsize)
                self.dropped += sum(e.row is not None for e in lost)
            self._queue.append(list(events))
            self.deepest = max(self.deepest, len(self._queue))
            self._cond.notify_all()
        return sum(e.row is not None for e in events)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is applied; ``False`` when ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._queue or self._busy) or self.failure is not None, timeout)

    def close(self) -> None:
        """Apply every queued event, then close the log; raises what stopped the writer, if it was
        not raised before."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self.events.close()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.failure is not None and not self._raised:
            self._raised = True
            raise self.failure

    def _run(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                # while a prune runs, a look every 0.2 s at whether it ended (else: woken by events)
                self._cond.wait_for(lambda: self._queue or self._closing,
                                    PRUNE_LOOK_S if self.events.pruning is not None else None)
                if not self._queue and not self._closing:
                    events = None
                elif not self._queue:
                    return
                else:
                    events, self._busy = self._queue.popleft(), True
            try:
                if events is None:
                    self.events.poll()
                else:
                    self.events.write(events)
            except BaseException as exc:  # handed to the recognition thread (next write) or to close()
                log.debug("the event writer stopped", exc_info=True)
                with self._cond:
                    self.failure, self._busy = exc, False
                    self._cond.notify_all()
                return
