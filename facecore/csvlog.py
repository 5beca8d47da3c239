"""The CSV log of recognitions: a header once, then whole rows, each flushed when written.

Every row is built completely in memory and handed to the kernel in one ``write()``
on a file opened for appending, so a crash of Python or an exception never splits a
row. A write that fails part-way (a full disk) is cut back off the file, so it leaves
no torn row either; every write failure is a :class:`FacecamError` naming the file.

One case is left to the next start: Linux may stop a ``write()`` between two pages of
the file when the process is killed (``kill -9``), so a row that straddled a page
boundary can end the file cut short. Such a partial line can only be the last one, and
opening the log removes it (with a warning) before anything is appended, so a log that
is being written again never holds a torn row.

Runs may share one log, starting at the same moment or not: opening holds an exclusive
``flock`` on the file while it checks the header, cuts a partial last line or writes the
header, and every append holds a shared one. So a new log gets exactly one header, and
an opening run never takes another run's row in progress for a partial one.

:func:`rewrite_log` (pruning old rows, forgetting a person) writes the kept rows to a
temporary file and renames it over the log, holding the old file's exclusive lock from
the read to the rename. A run appending meanwhile waits for that lock; every lock taken
then checks that the file in hand is still the one at the path, and follows the
replacement when it is not. So no row is torn, and none is lost in the replaced file.
(A log deleted by hand is created again, with its header, at the next row.)

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) get a leading ``'``.
"""

from __future__ import annotations

import csv
import fcntl
import io
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping

from facecore.errors import FacecamError, UsageError
from facecore.files import check_output

__all__ = ["CsvLog", "COLUMNS", "neutralize", "rewrite_log", "read_log"]

COLUMNS = ("time", "name", "confidence", "track", "frame", "source_time",
           "x1", "y1", "x2", "y2", "source", "snapshot")
log = logging.getLogger(__name__)
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


def _last_newline_end(fd: int, size: int, block: int = 65536) -> int:
    """The offset just after the last newline in the first ``size`` bytes of ``fd`` (0 when none)."""
    end = size
    while end > 0:
        start = max(0, end - block)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _replaced(fd: int) -> bool:
    """True when the file open as ``fd`` has left its folder: renamed over by a rewrite, or deleted."""
    return os.fstat(fd).st_nlink == 0


def _open_current(path: Path, kind: int) -> int:
    """``path`` opened for appending (created 0600) and locked with ``flock(kind)``, once the file
    in hand is the one at the path (a rewrite may replace it meanwhile)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, kind)
            if not _replaced(fd):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


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

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "CsvLog":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> "CsvLog":
        self.check_path()
        try:
            self._open_file()
        except OSError as exc:
            self.close()
            raise FacecamError(f"cannot open the CSV log {self.path}: {exc.strerror or exc}") from None
        except FacecamError:
            self.close()
            raise
        return self

    def check_path(self) -> None:
        """Create the log's folder; ``UsageError`` when the log is a folder, a device or a FIFO, or
        a file that is not a face-live log (read, never written here), ``FacecamError`` when its
        folder cannot be made (:func:`facecore.files.check_output`)."""
        target = check_output(self.path, "--log", "the CSV log", "log.csv")
        try:
            with open(target, "rb") as fh:
                first = fh.read(4096)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise FacecamError(f"cannot read the CSV log {self.path}: {exc.strerror or exc}") from None
        self._check_header(first)

    def _check_header(self, start: bytes) -> None:
        """``UsageError`` unless ``start`` (the file's first bytes; none: a new file) begins with the
        log's header."""
        header = next(csv.reader([start.partition(b"\n")[0].decode("utf-8", errors="replace")]), [])
        if start and tuple(header) != COLUMNS:
            raise UsageError(f"{self.path} is not a face-live log (its columns differ); choose another --log file")

    def _open_file(self) -> None:
        """Open the file at the path and, holding it exclusively (one opener at a time looks at the
        file and mends it), check its header, or write it."""
        self.close()
        self._fd = _open_current(self.path, fcntl.LOCK_EX)
        try:
            self._start()
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextmanager
    def _locked(self, kind: int) -> Iterator[None]:
        """Hold ``flock(kind)`` on the file: exclusive while opening, shared while appending, so an
        opener never takes another run's row in progress for a partial one left by a crash. When
        a rewrite replaced the file meanwhile, the new one is opened and locked instead."""
        fcntl.flock(self._fd, kind)
        while _replaced(self._fd):
            self._open_file()
            fcntl.flock(self._fd, kind)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _start(self) -> None:
        """With the file locked: check an existing header, cut a partial last line, or write the header."""
        size = os.fstat(self._fd).st_size
        self._check_header(os.pread(self._fd, 4096, 0) if size else b"")
        whole_end = _last_newline_end(self._fd, size)
        if whole_end < size:
            self._drop_partial_tail(whole_end)
        if whole_end == 0:  # a new file, or only a partial header was there
            self._write(_line(list(COLUMNS)))

    def _drop_partial_tail(self, whole_end: int) -> None:
        """Cut off the partial last line that a killed writer left after byte ``whole_end``."""
        tail = os.pread(self._fd, 200, whole_end)
        os.ftruncate(self._fd, whole_end)
        log.warning("%s ended with a partial row left by an interrupted run; removed it: %r",
                    self.path, tail.decode("utf-8", errors="replace"))

    def _write(self, data: bytes) -> None:
        """Append ``data`` whole, or raise ``FacecamError`` and leave the file as it was."""
        size = self._size()
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            raise FacecamError(f"cannot write to the CSV log {self.path}: {exc.strerror or exc}") from None
        if written != len(data):  # a full disk (or file size limit) took only part of the row
            self._cut_back(size, written)
            raise FacecamError(f"cannot write to the CSV log {self.path}: disk full "
                               f"(short write, {written} of {len(data)} bytes)")
        if self.fsync:
            try:
                os.fsync(self._fd)
            except OSError as exc:  # the row is written (not to repeat it); only its flush to disk failed
                log.warning("cannot flush the CSV log %s to disk: %s", self.path, exc.strerror or exc)

    def _size(self) -> int | None:
        try:
            return os.fstat(self._fd).st_size
        except OSError:
            return None

    def _cut_back(self, size: int | None, written: int) -> None:
        """Remove the ``written`` bytes of a partial row, unless another writer appended since."""
        if size is not None and written and self._size() == size + written:
            try:
                os.ftruncate(self._fd, size)
            except OSError:
                pass

    def append(self, row: Mapping[str, object]) -> None:
        """Write one row (missing columns are empty) in a single ``write()``."""
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown CSV columns: {', '.join(sorted(unknown))}")
        data = _line([_cell(row.get(name)) for name in COLUMNS])
        if self._fd is None:
            raise FacecamError(f"the CSV log {self.path} is closed")
        try:
            with self._locked(fcntl.LOCK_SH):
                self._write(data)
        except OSError as exc:  # the lock itself failed
            raise FacecamError(f"cannot write to the CSV log {self.path}: {exc.strerror or exc}") from None
        self.rows += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _split_rows(data: bytes, path: Path) -> tuple[list[list[str]], int]:
    """The rows after the header of a log's bytes, and how many bytes a partial last line (left by
    a killed writer) had; ``UsageError`` when the header is not a face-live log's."""
    whole_end = data.rfind(b"\n") + 1
    rows = list(csv.reader(io.StringIO(data[:whole_end].decode("utf-8", errors="replace"), newline="")))
    if rows and tuple(rows[0]) != COLUMNS:
        raise UsageError(f"{path} is not a face-live log (its columns differ)")
    return rows[1:], len(data) - whole_end


def read_log(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of the log at ``path`` as ``{column: text}`` (none when there is no file)."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise FacecamError(f"cannot read the CSV log {path}: {exc.strerror or exc}") from None
    rows, _ = _split_rows(data, path)
    return [dict(zip(COLUMNS, row)) for row in rows if len(row) == len(COLUMNS)]


def _edited(row: list[str], edit: Callable[[dict[str, str]], dict[str, str] | None]) -> list[str] | None:
    """``row`` after ``edit`` (a row that is not whole, which face-live never writes, is kept as it is)."""
    if len(row) != len(COLUMNS):
        return row
    edited = edit(dict(zip(COLUMNS, row)))
    return None if edited is None else [str(edited.get(c, "")) for c in COLUMNS]


def rewrite_log(path: str | os.PathLike, edit: Callable[[dict[str, str]], dict[str, str] | None]) -> tuple[int, int]:
    """Rewrite the log at ``path`` with ``edit(row)`` for each row: the row to keep (changed or
    not; cells are text, written as they are) or ``None`` to drop it. Atomic, and safe against
    runs appending meanwhile (see above). Returns ``(kept, dropped)``; ``(0, 0)`` without a file.
    """
    from .files import write_private

    path = Path(os.path.realpath(path))
    if not path.is_file():  # no log yet; or a device (/dev/full, /dev/null), which holds no rows
        return 0, 0
    try:
        fd = _open_current(path, fcntl.LOCK_EX)
    except OSError as exc:
        raise FacecamError(f"cannot open the CSV log {path}: {exc.strerror or exc}") from None
    try:
        data = b""
        while chunk := os.pread(fd, 1 << 20, len(data)):
            data += chunk
        rows, partial = _split_rows(data, path)
        kept = [_edited(row, edit) for row in rows]
        kept = [row for row in kept if row is not None]
        if kept != rows:  # else the file stays as it is (a partial last line is for the next opener)
            if partial:
                log.warning("%s ended with a partial row left by an interrupted run; removed it: %r",
                            path, data[len(data) - partial:][:200].decode("utf-8", errors="replace"))
            write_private(path, _line(list(COLUMNS)) + b"".join(map(_line, kept)))  # temporary sibling, renamed
    finally:
        os.close(fd)  # releases the lock: waiting writers find the new file
    return len(kept), len(rows) - len(kept)
