"""The event database as the CSV writer keeps it: a failure never stops the run.

:class:`EventWriter` opens the database next to the CSV log and records each row the log
got. When the database cannot be used (damaged, locked, a full disk), it says so once, in
one line naming the file, and the run goes on with the CSV alone; it tries the database
again every :data:`RETRY_S` seconds, and says once when it works again. Rows met while it
fails are in the CSV only (``face-enroll events --import-csv`` adds them later).
"""

from __future__ import annotations

import logging
import os
import time

from .errors import StorageError
from .eventdb import EventDb

__all__ = ["EventWriter", "RETRY_S"]

log = logging.getLogger(__name__)
RETRY_S = 30.0


class EventWriter:
    """``record(row)``, ``prune(before)``, ``close()`` on the database at ``path``; all do nothing
    when ``path`` is empty or ``None`` (no database)."""

    def __init__(self, path: str | os.PathLike | None, clock=time.monotonic) -> None:
        self.path = path or None
        self.error = ""  # why the database is failing now ("" when it works)
        self._db: EventDb | None = None
        self._clock, self._next_try = clock, 0.0
        self._open()

    def _open(self) -> bool:
        if self._db is not None or self.path is None:
            return self._db is not None
        if self.error and self._clock() < self._next_try:
            return False
        try:
            self._db = EventDb(self.path)
        except StorageError as exc:
            self._failed(exc)
            return False
        return True

    def _failed(self, exc: StorageError) -> None:
        if not self.error:
            log.warning("%s; recognitions are still logged to the CSV", exc)
        self.error = str(exc)
        self._next_try = self._clock() + RETRY_S
        self.close()

    def _run(self, call):
        """``call(db)``'s result; ``None`` without a database or when it fails."""
        if not self._open():
            return None
        try:
            result = call(self._db)
        except StorageError as exc:
            self._failed(exc)
            return None
        if self.error:
            log.warning("the event database %s works again", self.path)
            self.error = ""
        return result

    def record(self, row: dict) -> int | None:
        """Add the CSV ``row`` to the database (a failure is logged once, see above); returns the id
        of the event it belongs to (``None``: no database, it failed, or the row has no readable time)."""
        return self._run(lambda db: db.record(row))

    def prune(self, before: float) -> None:
        """Delete what is older than ``before`` (epoch seconds)."""
        self._run(lambda db: db.prune(before))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
