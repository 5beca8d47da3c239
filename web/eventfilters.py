"""The filters of ``face-enroll events``, read from a query string: one code path for the
Events page, its CSV export and ``GET /api/events`` (times as ISO or a span back from now, a
name checked as the CLI checks it; a bad value is a 400 naming it)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Query

from enroll.events_cli import parse_when
from facecore.errors import UsageError
from facecore.eventquery import Filters
from facecore.people import validate_name

__all__ = ["EventQuery", "event_query", "MAX_LIMIT"]

MAX_LIMIT = 10_000


@dataclass(frozen=True)
class EventQuery:
    """What was asked, as typed (to fill the page's form and links), and the :class:`Filters`."""

    name: str = ""
    unknown: bool = False
    source: str = ""
    since: str = ""
    until: str = ""

    def filters(self, limit: int | None) -> Filters:
        """``Filters`` of these values (``UsageError`` for a bad one) with at most ``limit`` events."""
        if self.name and self.unknown:
            raise UsageError("name and unknown exclude each other: ask for one person or for strangers")
        since = parse_when(self.since, "since") if self.since else None
        until = parse_when(self.until, "until") if self.until else None
        if since is not None and until is not None and since > until:
            raise UsageError(f"since {self.since} is after until {self.until}")
        name = validate_name(self.name) if self.name else None
        return Filters(name, self.unknown, self.source or None, since, until, limit)

    def query_string(self, **extra) -> str:
        """These filters (and ``extra``) as a URL query string."""
        from urllib.parse import urlencode

        values = {"name": self.name, "unknown": "1" if self.unknown else "", "source": self.source,
                  "since": self.since, "until": self.until, **extra}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def event_query(name: str = Query("", max_length=200, description="only this person (exact name)"),
                unknown: bool = Query(False, description="only strangers"),
                source: str = Query("", max_length=200, description="only this source"),
                since: str = Query("", max_length=64,
                                   description="from: ISO time, or a span back from now (30m, 2h, 7d)"),
                until: str = Query("", max_length=64, description="up to: the same way")) -> EventQuery:
    """FastAPI dependency: the filters of the query string."""
    return EventQuery(name.strip(), unknown, source.strip(), since.strip(), until.strip())
