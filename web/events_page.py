"""The Events page (``/events``): the event database's events with ``face-enroll events``' filters,
pages of :data:`PAGE` events, a thumbnail of each event's face, the per-day summary
(``--summary day``), and a CSV export of the filtered rows (``/events.csv``).

An unknown event links to its face on the Review page (``/review#face-<face id>``: the Review
page gives each face it shows that element id).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from facecore.csvlog import neutralize
from facecore.errors import UsageError

from .api import query_events, query_summary
from .context import WebContext, get_context
from .eventfilters import MAX_LIMIT, EventQuery, event_query
from .errors import error_response, status_of

__all__ = ["router", "PAGE", "CSV_COLUMNS"]

router = APIRouter()
PAGE = 50
CSV_COLUMNS = ("id", "source", "name", "start", "end", "confidence", "face")


def _local(text: str | None) -> str:
    """An ISO time as local ``YYYY-MM-DD HH:MM:SS`` (as ``face-enroll events`` shows it)."""
    try:
        return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M:%S") if text else ""
    except ValueError:
        return text or ""


@router.get("/events", include_in_schema=False)
def events_page(request: Request, query: EventQuery = Depends(event_query), page: int = Query(1, ge=1, le=10_000),
                context: WebContext = Depends(get_context)) -> Response:
    try:
        rows = query_events(context, query, page * PAGE + 1)
        days = query_summary(context, query)
    except UsageError as exc:  # a bad filter: said above the form, which keeps what was typed
        return context.render(request, "events.html", status_code=status_of(exc), page="events", query=query,
                              error=str(exc), rows=[], days=[], number=1, more=False, links={})
    shown = rows[(page - 1) * PAGE: page * PAGE]
    for row in shown:
        row["start_local"], row["end_local"] = _local(row["start"]), _local(row["end"])
    links = {"csv": "/events.csv?" + query.query_string(),
             "previous": "/events?" + query.query_string(page=page - 1) if page > 1 else "",
             "next": "/events?" + query.query_string(page=page + 1) if len(rows) > page * PAGE else ""}
    return context.render(request, "events.html", page="events", query=query, error="", rows=shown, days=days,
                          number=page, more=bool(links["next"]), links=links,
                          database=bool(context.config.events.database))


@router.get("/events.csv", include_in_schema=False)
def events_csv(request: Request, query: EventQuery = Depends(event_query),
               context: WebContext = Depends(get_context)) -> Response:
    """Every event matching the filters (up to :data:`~web.eventfilters.MAX_LIMIT`) as CSV; cells that
    a spreadsheet would run as a formula are neutralized, as in the CSV log."""
    try:
        rows = query_events(context, query, MAX_LIMIT)
    except UsageError as exc:
        return error_response(request, status_of(exc), str(exc))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([neutralize(row[c]) if isinstance(row[c], str) else ("" if row[c] is None else row[c])
                         for c in CSV_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="events.csv"'})
