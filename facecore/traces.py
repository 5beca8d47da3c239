"""Whether files still mention a person: the last check of ``face-enroll remove --everywhere``.

A name is looked for in bytes in every form it could have been written in: any Unicode
normal form (NFC, NFD, and the compatibility forms, such as fullwidth letters), any case,
and as JSON's ``\\uXXXX`` escapes. It counts only as a whole word: "Ann" is not found in
"Joanna". File and folder names are checked too. The contents of the binary files facecam
writes (pictures, feature arrays, videos) are not read: they hold no names.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Iterable

from .config import Config

__all__ = ["mentions", "is_json", "find_traces", "workspace_roots", "BINARY_SUFFIXES"]

BINARY_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".webp", ".npy", ".npz",
                             ".mp4", ".avi", ".m4v", ".mov", ".mkv", ".h5", ".keras"})
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _fold(text: str) -> str:
    """``text`` compared without case or Unicode form (compatibility caseless matching)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _unescape(text: str) -> str:
    """``text`` with JSON's ``\\uXXXX`` escapes (surrogate pairs too) read as the characters they stand for."""
    if "\\u" not in text:
        return text
    chars = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return chars.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(?<!\w){re.escape(_fold(name))}(?!\w)")


class _Finder:
    """Finds ``name`` as a whole word in folded text, except inside the ``others`` that contain it
    (removing "Ann" while "Ann Smith" is enrolled: "Ann Smith" is no mention of Ann)."""

    def __init__(self, name: str, others: Iterable[str] = ()) -> None:
        self.pattern = _pattern(name)
        self.others = sorted({_fold(o) for o in others if self.pattern.search(_fold(o)) and _fold(o) != _fold(name)},
                             key=len, reverse=True)

    def __call__(self, text: str) -> bool:
        folded = _fold(_unescape(text))
        for other in self.others:
            folded = folded.replace(other, " ")
        return bool(self.pattern.search(folded))


def mentions(data: bytes | str, name: str, others: Iterable[str] = ()) -> bool:
    """Whether ``data`` (bytes read as UTF-8, bad bytes skipped) holds ``name`` as a whole word, in
    any case or Unicode form, plainly or as JSON escapes, other than as part of one of ``others``
    (other people's names)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return bool(name.strip()) and _Finder(name, others)(text)


def is_json(data: bytes) -> bool:
    """Whether ``data`` parses as JSON (UTF-8) at all."""
    try:
        json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return True


def workspace_roots(config: Config, extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """The folders and files where facecam keeps what it knows about people: for each of its paths
    in ``config`` (people, cache, faces, review sheets, model, CSV log, the outputs registry) the
    top folder of a relative path (``data/people`` -> ``data``), or the path itself when it is
    absolute or climbs out (``..``); and each of ``extra``. Nested ones are left out."""
    paths = [config.train.data, config.train.cache_dir, config.faces.folder, config.review.sheets,
             config.train.model, config.log.path, config.log.registry]
    roots = []
    for text in filter(None, paths):
        path = Path(text)
        top = Path(path.parts[0]) if not path.is_absolute() and path.parts[0] not in (".", "..") else path
        roots.append(top)
    roots += [Path(p) for p in extra]
    real = sorted({Path(os.path.abspath(p)) for p in roots}, key=lambda p: len(p.parts))
    out: list[Path] = []
    for path in real:
        if not any(path.is_relative_to(kept) for kept in out):
            out.append(path)
    return out


def _files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):  # links are not followed out of the tree
        for name in dirs + files:
            yield Path(folder) / name


def find_traces(roots: Iterable[Path], name: str, others: Iterable[str] = ()) -> list[Path]:
    """The files and folders under ``roots`` whose name mentions ``name``, or whose contents do (for
    text files; see :data:`BINARY_SUFFIXES`), other than in one of ``others`` (see :func:`mentions`);
    unreadable files are named as well."""
    finder = _Finder(name, others)
    found = []
    for root in roots:
        for path in _files(root):
            if finder(path.name):
                found.append(path)
                continue
            if path.is_symlink() or not path.is_file() or path.suffix.lower() in BINARY_SUFFIXES:
                continue
            try:
                data = path.read_bytes()
            except OSError:
                found.append(path)  # cannot tell: it may
                continue
            if finder(data.decode("utf-8", "replace")):
                found.append(path)
    return found
