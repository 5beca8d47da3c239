"""How the driver of ``face-live --engine ray`` watches its run, so that nothing it waits for
can hang it.

:class:`RunWatch` is asked on every round of the driver's wait (twice a second) and looks,
every ``every_s`` seconds:

1. at the Ray node of this machine and the cluster's head (:class:`~realtime.engine.ray_guard.NodeWatch`):
   one that stopped ends the run at once;
2. at each camera actor and the CSV writer, with a ``progress()`` call (answered on the
   actor's second thread, beside its run): the figures so far (kept for the report, should
   the run end without the actor's own), and the actor's process id. Another id: the actor
   crashed and Ray restarted it, which is said in one line. No answer for ``answer_s``
   seconds: the actor is taken as lost;
3. at the processes of the local Ray this run started (noted, to end whatever is left).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from .ray_guard import NodeWatch, RunProcesses, plain

__all__ = ["RunWatch", "why_failed", "WRITER"]

log = logging.getLogger(__name__)
WRITER = "the CSV writer"


def why_failed(exc: BaseException) -> str:
    """One plain line for a failed Ray call: the actor's own error, or what became of the actor."""
    import ray

    if isinstance(exc, ray.exceptions.GetTimeoutError):
        return "no answer in time"
    if isinstance(exc, ray.exceptions.RayActorError):  # ActorDiedError, ActorUnavailableError
        return "its Ray actor died (and was not restarted)"
    cause = getattr(exc, "cause", None)
    if isinstance(exc, ray.exceptions.RayTaskError) and cause is not None:
        return plain(cause) or type(cause).__name__
    return plain(exc) or type(exc).__name__


class RunWatch:
    """``check()`` returns what was lost (``""``: nothing yet); ``figures``: the last figures of
    each camera. Actors are probed once ``probing`` is set (while they are built, a call waits
    for the build, which may take long on a busy machine)."""

    def __init__(self, cameras: dict, node: NodeWatch, processes: RunProcesses | None,
                 say: Callable[[str], None], max_restarts: int, writer=None, every_s: float = 2.0,
                 answer_s: float = 90.0) -> None:
        self.actors = {**cameras, **({WRITER: writer} if writer is not None else {})}
        self.node, self.processes, self.say, self.max_restarts = node, processes, say, max_restarts
        self.every_s, self.answer_s = every_s, answer_s
        self.probing = False
        self.figures: dict[str, dict] = {}
        self._pids: dict[str, int] = {}
        self._restarts: dict[str, int] = {}
        self._probes: dict[str, tuple] = {}  # name -> (ref, sent at)
        self._next = 0.0

    def check(self) -> str:
        lost = self.node.lost()
        if lost:
            return lost
        now = time.monotonic()
        if self.probing:
            lost = self._answers(now)
            if lost:
                return lost
        if now >= self._next:
            self._next = now + self.every_s
            if self.processes is not None:
                self.processes.note()
            if self.probing:
                self._send(now)
        return ""

    def rows(self) -> int:
        """CSV rows written, as the writer said last."""
        return int(self.figures.get(WRITER, {}).get("rows", 0))

    def _send(self, now: float) -> None:
        for name, actor in self.actors.items():
            if name not in self._probes:
                self._probes[name] = (actor.progress.remote(), now)

    def _answers(self, now: float) -> str:
        import ray

        for name, (ref, sent) in list(self._probes.items()):
            done, _ = ray.wait([ref], timeout=0)
            if not done:
                if now - sent > self.answer_s:
                    return f"{name}: no answer for {self.answer_s:.0f} s"
                continue
            del self._probes[name]
            try:
                figures = ray.get(ref)
            except ray.exceptions.RayError as exc:  # restarting, or died for good (its run says so)
                log.debug("%s did not answer: %s", name, why_failed(exc))
                continue
            self._seen(name, figures)
        return ""

    def _seen(self, name: str, figures: dict) -> None:
        pid = figures.get("pid")
        if name in self._pids and pid != self._pids[name]:
            self._restarts[name] = self._restarts.get(name, 0) + 1
            what = name if name == WRITER else f"camera {name}"
            self.say(f"ray: {what} crashed and was restarted ({self._restarts[name]} of at most "
                     f"{self.max_restarts} restarts)")
        self._pids[name] = pid
        self.figures[name] = figures
