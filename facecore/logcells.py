"""The CSV log's ``snapshot`` cell: a kept face's picture, written relative to the workspace.

The workspace is the folder the commands run in (their default paths, ``data/`` and
``logs/``, are relative to it). A cell written relative to it still points at the face
after the whole folder is moved or copied; a face stored outside it keeps its absolute
path. Reading accepts both, so the absolute cells of older logs still work.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["snapshot_cell", "snapshot_path"]


def _root(root: str | os.PathLike | None) -> Path:
    return Path(os.path.abspath(root if root is not None else "."))


def snapshot_cell(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """What the CSV cell holds for the picture at ``path`` (relative paths: from the current
    folder): its path relative to the workspace ``root`` (default: the current folder) when it
    lies inside it, else its absolute path."""
    full = Path(os.path.abspath(path))
    try:
        return full.relative_to(_root(root)).as_posix()
    except ValueError:
        return str(full)


def snapshot_path(cell: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The picture a CSV cell points at: a relative cell is taken from the workspace ``root``
    (default: the current folder); an absolute one (older logs) as it is."""
    path = Path(cell)
    return path if path.is_absolute() else _root(root) / path
