"""A small progress bar on stderr (stdout stays free for machine-readable output)."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """``with Progress("features", total) as bar: bar.update(n)``.

    On a terminal it redraws one line; elsewhere it prints a line at most every
    ``every_s`` seconds and at the end. ``enabled=False`` silences it.
    """

    def __init__(self, label: str, total: int, enabled: bool = True, every_s: float = 5.0, stream=None) -> None:
        self.label, self.total, self.enabled, self.every_s = label, max(0, total), enabled, every_s
        self.stream = stream or sys.stderr
        self.done = 0
        self._start = self._last = time.monotonic()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self._draw(final=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._tty or now - self._last >= self.every_s:
            self._last = now
            self._draw()

    def _draw(self, final: bool = False) -> None:
        if not self.enabled or self.total == 0:
            return
        elapsed = time.monotonic() - self._start
        width = 24
        filled = int(width * self.done / self.total)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {rate:.1f}/s"
        end = "\n" if (final or not self._tty) else ""
        self.stream.write(("\r" if self._tty else "") + line + end)
        self.stream.flush()
