"""Background work of the People and Review pages: one retraining at a time, its progress readable
from any request, and the errors those pages answer with (status codes included).

A job runs on its own thread; the page polls ``GET /people/retrain`` (:meth:`Jobs.state`) and
shows the step, the seconds so far, the faces whose features were computed, then the result or
the error, in one line. Starting a second job while one runs is a :class:`Busy` error (409).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from facecore.errors import FacecamError, UsageError

__all__ = ["Job", "Jobs", "Busy", "Stale", "Gone", "CountingBackbone"]

log = logging.getLogger(__name__)


class Busy(FacecamError):
    """Another job (a retraining) runs: try again when it is done."""

    status = 409


class Stale(FacecamError):
    """What the page showed changed since it was loaded (another browser acted on it)."""

    status = 409


class Gone(UsageError):
    """The thing asked for is not there (a person, a photo, a cluster, a face)."""

    status = 404


@dataclass
class Job:
    """One background job: ``state`` is ``running``, ``done`` or ``failed``; ``step`` what it does now;
    ``computed`` faces whose features were computed so far; ``message`` its result or its error."""

    id: int
    kind: str
    state: str = "running"
    step: str = "starting"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    computed: int = 0
    message: str = ""

    def as_dict(self) -> dict:
        out = asdict(self)
        out["seconds"] = round((self.finished or time.time()) - self.started, 1)
        return out


class Jobs:
    """At most one job at a time; the last one is kept so that the page can say how it ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._job: Job | None = None
        self._thread: threading.Thread | None = None

    def start(self, kind: str, work: Callable[[Job], str]) -> Job:
        """Run ``work(job)`` on a thread (it returns the line that says what it did); ``Busy`` when a
        job runs. A ``FacecamError`` ends the job as failed with its message; anything else too, with
        its type named and the traceback logged."""
        with self._lock:
            if self._job is not None and self._job.state == "running":
                raise Busy(f"a {self._job.kind} is already running (started "
                           f"{time.time() - self._job.started:.0f} s ago): wait until it is done")
            job = self._job = Job(next(self._ids), kind)
        self._thread = threading.Thread(target=self._run, args=(job, work), name=f"web-{kind}", daemon=True)
        self._thread.start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], str]) -> None:
        try:
            job.message = work(job)
            job.state = "done"
        except FacecamError as exc:
            job.message, job.state = str(exc), "failed"
        except Exception as exc:  # a job never dies silently: the page says it failed, the log has why
            log.exception("the %s failed", job.kind)
            job.message, job.state = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            job.finished = time.time()

    def state(self) -> dict | None:
        """The current or last job as a dict (``None`` before the first)."""
        return None if self._job is None else self._job.as_dict()

    def wait(self, timeout: float | None = None) -> dict | None:
        """Wait until the current job ends (tests, shutdown); its state."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state()


class CountingBackbone:
    """A backbone that counts into ``job.computed`` the faces it computes features of (cached ones are
    not computed); everything else is the wrapped backbone's."""

    def __init__(self, backbone, job: Job) -> None:
        self._backbone, self._job = backbone, job

    def features(self, crops, *args, **kwargs):
        out = self._backbone.features(crops, *args, **kwargs)
        self._job.computed += len(crops)
        return out

    def __getattr__(self, name: str):
        return getattr(self._backbone, name)
