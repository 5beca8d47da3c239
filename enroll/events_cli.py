"""``face-enroll events``: ask the event database who was seen, where and when.

- the events (one track of one person or stranger on one source), newest first, filtered by
  ``--name``/``--unknown``, ``--source``, ``--since``/``--until`` (ISO time, or a span back
  from now: ``30m``, ``2h``, ``7d``) and ``--limit``; ``--json`` for other software;
- ``--last``: each person's last sighting;
- ``--summary day``: who was here each day, first and last seen, how often (``--csv``, ``--json``);
- ``--import-csv [FILE]``: fill the database from a CSV log written before it existed.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path

from facecore.app import add_common_options, load_command_config, print_table
from facecore.csvlog import neutralize
from facecore.errors import UsageError
from facecore.eventdb import exists, import_csv
from facecore.eventquery import Filters, day_summary, events, last_seen
from facecore.people import validate_name

__all__ = ["register", "parse_when"]

_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SUMMARY = ("day", "name", "source", "first_seen", "last_seen", "sightings")


def register(sub) -> None:
    """Add ``events`` to the ``face-enroll`` sub-parsers ``sub``."""
    p = sub.add_parser("events", help="who was seen, where and when: events, last sightings, a summary per day")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--name", metavar="NAME", help="only this person")
    who.add_argument("--unknown", action="store_true", help="only strangers")
    p.add_argument("--source", metavar="S", help="only this source (as the CSV log names it)")
    p.add_argument("--since", metavar="WHEN",
                   help="from this time: ISO (2026-12-07T09:00) or back from now (30m, 2h, 7d)")
    p.add_argument("--until", metavar="WHEN", help="up to this time, the same way")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="events listed at most (default: 50)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--last", action="store_true", help="each person's last sighting: source and time")
    what.add_argument("--summary", choices=("day",), help="day: one row per person per day per source")
    what.add_argument("--import-csv", nargs="?", const="", metavar="FILE",
                      help="fill the database from a CSV log (default: log.path); rows already there are skipped")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    out.add_argument("--csv", action="store_true", help="with --summary: CSV on stdout")
    p.add_argument("--database", metavar="FILE", help="the event database (default: events.database)")
    add_common_options(p)
    p.set_defaults(func=cmd_events)


def parse_when(text: str, flag: str, now: float | None = None) -> float:
    """Epoch seconds of ``text``: an ISO date or time (local when it has no offset), or a span
    back from ``now`` such as ``90s``, ``30m``, ``2h``, ``7d``, ``1w``; ``UsageError`` otherwise."""
    span = _SPAN.fullmatch(text.strip())
    if span:
        return (time.time() if now is None else now) - float(span[1]) * _UNIT_S[span[2]]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(f"{flag} {text!r}: give an ISO time (2026-12-07T09:00) or a span back from now "
                         f"(30m, 2h, 7d)") from None


def _filters(args) -> Filters:
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    if args.csv and not args.summary:
        raise UsageError("--csv goes with --summary day (use --json for events)")
    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until") if args.until else None
    if since is not None and until is not None and since > until:
        raise UsageError(f"--since {args.since} is after --until {args.until}")
    name = validate_name(args.name) if args.name is not None else None
    return Filters(name, args.unknown, args.source, since, until, args.limit)


def cmd_events(args) -> int:
    config = load_command_config(args)
    filters = _filters(args)  # bad filters fail before any file is looked at
    path = args.database or config.events.database
    if not path:
        raise UsageError("events.database is empty: no event database is kept")
    if args.import_csv is not None:
        return _import(path, args.import_csv or config.log.path)
    if not exists(path):
        print(f"no event database at {path} yet: face-live makes one as it logs, or import a CSV log with "
              f"face-enroll events --import-csv", file=sys.stderr)
        if args.json:  # still one JSON object, with no rows
            print(json.dumps({"last" if args.last else "days" if args.summary else "events": []}))
        return 0
    if args.last:
        _show(last_seen(path, filters), "last", ("name", "source", "time"), args.json)
    elif args.summary:
        _summary(day_summary(path, filters), args)
    else:
        columns = ("id", "source", "name", "start", "end", "confidence", "face")
        _show(events(path, filters), "events", columns, args.json)
    return 0


def _import(path: str, log_path: str) -> int:
    if not log_path or not Path(log_path).is_file():
        raise UsageError(f"no CSV log at {log_path or '(log.path is empty)'}: give one with --import-csv FILE")
    added, skipped = import_csv(path, log_path)
    print(f"imported {added} rows of {log_path} into {path} ({skipped} skipped: already there or without a time)")
    return 0


def _local(text: str) -> str:
    return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M:%S") if text else ""


def _show(rows: list[dict], key: str, columns: tuple[str, ...], as_json: bool) -> None:
    if as_json:
        print(json.dumps({key: rows}, ensure_ascii=False))
        return
    if not rows:
        print(f"no {'sightings' if key == 'last' else 'events'} match", file=sys.stderr)
        return
    times = {"start", "end", "time"}
    table = [[_local(r[c]) if c in times else f"{r[c]:.3f}" if c == "confidence" and r[c] is not None
              else ("" if r[c] is None else r[c]) for c in columns] for r in rows]
    print_table(table, columns, sys.stdout)


def _summary(rows: list[dict], args) -> None:
    if args.json:
        print(json.dumps({"days": rows}, ensure_ascii=False))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(_SUMMARY)
        writer.writerows([neutralize(r[c]) if isinstance(r[c], str) else r[c] for c in _SUMMARY] for r in rows)
    elif rows:
        print_table([(r["day"], r["name"], r["source"], _local(r["first_seen"])[11:], _local(r["last_seen"])[11:],
                      r["sightings"]) for r in rows], ("day", "name", "source", "first seen", "last seen", "sightings"))
    else:
        print("no sightings match", file=sys.stderr)
