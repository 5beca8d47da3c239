"""face-live's named sources: ``NAME=SOURCE`` texts (``door=rtsp://cam1/stream``) split and checked.

A name is the CSV's ``source`` column, the title of a tile and the name of a video. An
unnamed source is called by itself, a URL with its credentials masked
(:func:`facecore.urls.mask_url`): the real URL is kept in :attr:`SourceSpec.source` only,
to be opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .urls import mask_url

__all__ = ["SourceSpec", "named_sources", "NAME_RULE", "EMPTY_SOURCE"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
NAME_RULE = "1 to 40 letters, digits, '_', '.' or '-' (no spaces)"
EMPTY_SOURCE = ("the source is empty: give a camera index (0), a video file, a stream URL or a folder of photos "
                "(--source, or camera.sources in the config)")


@dataclass(frozen=True)
class SourceSpec:
    """One source of face-live: ``name`` (the CSV's ``source`` column and the tile's title: the
    source itself unless named, a URL's credentials masked) and ``source`` (camera index, file,
    URL or folder; the real URL, kept in memory only)."""

    name: str
    source: str


def _split_name(text: str) -> tuple[str, str] | None:
    """``(name, source)`` of a ``NAME=SOURCE`` text, ``None`` for a plain source; ``UsageError``
    for a name that breaks the rule (a path that exists is never split)."""
    name, sep, rest = text.partition("=")
    if not (sep and rest) or Path(text).exists():
        return None
    if _NAME.match(name):
        return name, rest
    if "://" in name or "/" in name or "\\" in name:  # "=" inside a URL's query or a path: no name given
        return None
    raise UsageError(f"source name {name!r} (in {name + '=' + mask_url(rest)!r}): a name is {NAME_RULE}, "
                     f"e.g. --source {re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('_') or 'door'}={mask_url(rest)}")


def named_sources(texts: list[str]) -> list[SourceSpec]:
    """``SOURCE`` or ``NAME=SOURCE`` each (``door=rtsp://cam1/stream``; a NAME is letters, digits,
    ``_.-``, and a path that exists is never split); ``UsageError`` for an empty source, a name
    that breaks the rule, or two sources with one name. An unnamed source is called by itself,
    a URL with its credentials masked."""
    specs = []
    for text in texts:
        if not str(text).strip():
            raise UsageError(EMPTY_SOURCE)
        split = _split_name(text)
        specs.append(SourceSpec(*split) if split else SourceSpec(mask_url(text), text))
    names = [spec.name for spec in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"two sources are called {twice[0]!r}: name each, e.g. --source door={twice[0]}")
    return specs
