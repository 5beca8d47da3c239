"""The CSV log of recognitions: a header once, then whole rows, each flushed when written.

Every row is built completely in memory and handed to the kernel in one ``write()``
on a file opened for appending, so a crash or ``kill -9`` leaves only whole rows.
Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) get a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Mapping

from facecore.errors import FacecamError, UsageError

__all__ = ["CsvLog", "COLUMNS", "neutralize"]

COLUMNS = ("time", "name", "confidence", "track", "frame", "source_time",
           "x1", "y1", "x2", "y2", "source", "snapshot")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else ""
    if isinstance(value, str):
        return neutralize(value)
    return "" if value is None else str(value)


class CsvLog:
    """Append rows to ``path`` (a context manager).

    A new or empty file gets the header row; an existing file must have the same
    header (else ``UsageError``), and gets no second one. ``fsync``: also force each
    row to disk (slower; flushing to the kernel is always done).
    """

    def __init__(self, path: str | os.PathLike, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.rows = 0
        self._fd: int | None = None

    def __enter__(self) -> "CsvLog":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> "CsvLog":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header, ends_whole = self._existing()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise FacecamError(f"cannot open the CSV log {self.path}: {exc.strerror or exc}") from None
        if header is None:
            self._write(_line(list(COLUMNS)))
        elif not ends_whole:
            self._write(b"\n")  # an earlier writer left a partial last line: start on a new one
        return self

    def _existing(self) -> tuple[list[str] | None, bool]:
        """The header of an existing non-empty file and whether it ends with a newline."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return None, True
        with open(self.path, "rb") as fh:
            first = fh.readline().decode("utf-8", errors="replace")
            fh.seek(-1, os.SEEK_END)
            ends_whole = fh.read(1) == b"\n"
        header = next(csv.reader([first]), [])
        if tuple(header) != COLUMNS:
            raise UsageError(f"{self.path} is not a face-live log (its columns differ); choose another --log file")
        return header, ends_whole

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise FacecamError(f"the CSV log {self.path} is closed")
        written = os.write(self._fd, data)
        if written != len(data):  # only on a full disk; a regular file otherwise takes it whole
            raise FacecamError(f"short write to {self.path} ({written} of {len(data)} bytes): disk full?")
        if self.fsync:
            os.fsync(self._fd)

    def append(self, row: Mapping[str, object]) -> None:
        """Write one row (missing columns are empty) in a single ``write()``."""
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown CSV columns: {', '.join(sorted(unknown))}")
        self._write(_line([_cell(row.get(name)) for name in COLUMNS]))
        self.rows += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
