"""Questions to the event database (:mod:`facecore.eventdb`): events, last sightings, days.

Each takes :class:`Filters` and returns plain dicts, newest first. Times are the ISO text
the log wrote (with its UTC offset). ``since``/``until`` keep what happened in that range:
an event that overlaps it, a sighting inside it.

The day summary has one row per person per day per source (days in local time: the
``TZ`` of the process), with the first and last sighting and how many there were. Strangers
are one ``unknown`` row per day per source, whose count is the number of unknown sightings
(face-live logs each unknown track once, so it is the number of strangers' tracks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .eventdb import _guarded, connect
from .faces import UNKNOWN

__all__ = ["Filters", "events", "last_seen", "day_summary"]


@dataclass(frozen=True)
class Filters:
    """``name`` (exact, NFC), or ``unknown`` for strangers only; ``source``; ``since``/``until`` in
    epoch seconds; ``limit``: at most this many events (``None``: all)."""

    name: str | None = None
    unknown: bool = False
    source: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int | None = 50


def _where(f: Filters, start: str, end: str, people_only: bool = False) -> tuple[str, list]:
    """The SQL condition and its parameters for ``f``, on a table whose times are columns ``start``
    and ``end`` (the same column for sightings)."""
    terms, params = [], []
    name = UNKNOWN if f.unknown else f.name
    if name is not None:
        terms.append("name = ?")
        params.append(name)
    elif people_only:
        terms.append("name != ?")
        params.append(UNKNOWN)
    if f.source is not None:
        terms.append("source = ?")
        params.append(f.source)
    if f.since is not None:
        terms.append(f"{end} >= ?")
        params.append(f.since)
    if f.until is not None:
        terms.append(f"{start} <= ?")
        params.append(f.until)
    return (" WHERE " + " AND ".join(terms)) if terms else "", params


def _query(path: str | os.PathLike, sql: str, params: list) -> list[dict]:
    db = connect(path, create=False)
    try:
        with _guarded(Path(path)):
            cursor = db.execute(sql, params)
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        db.close()


def events(path: str | os.PathLike, f: Filters) -> list[dict]:
    """``[{"id", "source", "name", "start", "end", "confidence", "face"}]``, newest first."""
    where, params = _where(f, "start_ts", "end_ts")
    limit = f" LIMIT {int(f.limit)}" if f.limit is not None else ""
    return _query(path, "SELECT id, source, name, start_at AS start, end_at AS end, confidence, face FROM events"
                  f"{where} ORDER BY start_ts DESC, id DESC{limit}", params)


def last_seen(path: str | os.PathLike, f: Filters) -> list[dict]:
    """``[{"name", "source", "time"}]``: each person's last sighting (strangers only with
    ``unknown``), the most recent first: the end of their last event (``since``/``until``
    apply to that end)."""
    where, params = _where(f, "end_ts", "end_ts", people_only=True)
    rows = _query(path, f"SELECT name, source, end_at AS time, max(end_ts) AS latest FROM events{where} "
                  "GROUP BY name ORDER BY latest DESC, name", params)
    return [{"name": r["name"], "source": r["source"], "time": r["time"]} for r in rows]


def day_summary(path: str | os.PathLike, f: Filters) -> list[dict]:
    """``[{"day", "name", "source", "first_seen", "last_seen", "sightings"}]``: newest day first,
    then by name and source."""
    where, params = _where(f, "ts", "ts")
    rows = _query(path, "SELECT date(ts, 'unixepoch', 'localtime') AS day, name, source, "
                  "min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS sightings "
                  f"FROM sightings{where} GROUP BY day, name, source ORDER BY day DESC, name, source", params)
    for row in rows:
        row["first_seen"], row["last_seen"] = _local(row.pop("first_ts")), _local(row.pop("last_ts"))
    return [{k: row[k] for k in ("day", "name", "source", "first_seen", "last_seen", "sightings")} for row in rows]


def _local(ts: float) -> str:
    """``ts`` (epoch seconds) as local ISO time with its offset, to the millisecond."""
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")
