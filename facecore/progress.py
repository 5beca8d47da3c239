"""A progress bar on stderr (stdout stays free for machine-readable output), drawn by ``rich``.

On a terminal: the label, a bar, the count, the rate and the time left (ETA), redrawn in
place. Anywhere else (a pipe, a log file) rich would print only the last picture, so a
plain line (no escape codes, no bar) is written at most every ``every_s`` seconds and at
the end, from the same task figures.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from .app import is_terminal

__all__ = ["Progress"]


class _RateColumn(ProgressColumn):
    """Items per second, as rich measures them over the last updates."""

    def render(self, task: Task) -> Text:
        return Text(_rate(task))


def _rate(task: Task) -> str:
    return "?/s" if task.speed is None else f"{task.speed:.1f}/s"


def _eta(task: Task) -> str:
    """The time left as rich's terminal column shows it (``0:01:05``)."""
    left = task.time_remaining
    return "?" if left is None else str(timedelta(seconds=int(left)))


class Progress:
    """``with Progress("features", total) as bar: bar.update(n)``.

    On a terminal rich redraws one line; elsewhere a plain line is printed at most every
    ``every_s`` seconds and at the end. ``enabled=False`` (or ``total`` 0) prints nothing.
    """

    def __init__(self, label: str, total: int, enabled: bool = True, every_s: float = 5.0, stream=None) -> None:
        self.label, self.total, self.enabled, self.every_s = label, max(0, total), enabled, every_s
        self.stream = stream or sys.stderr
        self.done = 0
        self._shown = enabled and self.total > 0
        self._terminal = is_terminal(self.stream)
        self._last = time.monotonic()
        console = Console(file=self.stream, force_terminal=self._terminal, highlight=False, markup=False, emoji=False)
        self._rich = RichProgress(
            TextColumn(label, markup=False), BarColumn(), MofNCompleteColumn(), _RateColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console, disable=not (self._shown and self._terminal),
            redirect_stdout=False, redirect_stderr=False,  # never move stdout (machine-readable) onto stderr
        )
        self._task = self._rich.add_task(label, total=self.total)

    def __enter__(self) -> "Progress":
        self._rich.start()
        return self

    def __exit__(self, *exc) -> None:
        self._rich.stop()
        self._plain_line()

    def update(self, n: int = 1) -> None:
        self.done += n
        self._rich.update(self._task, completed=self.done)
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._plain_line()

    def _plain_line(self) -> None:
        """Off a terminal: ``label done/total rate ETA``, one plain line."""
        if not self._shown or self._terminal:
            return
        task = self._rich.tasks[0]
        self.stream.write(f"{self.label} {self.done}/{self.total} {_rate(task)} ETA {_eta(task)}\n")
        self.stream.flush()
