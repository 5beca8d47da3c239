"""The workspace: the folder whose ``data/``, ``models/`` and ``logs/`` a command uses.

It is ``--workspace DIR`` when given, else ``$FACECAM_HOME`` when set, else the current
folder. The config's relative storage paths (``STORAGE_KEYS``, e.g. ``data/people``) are
taken inside it; paths typed as command-line arguments stay relative to the current folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from .config import Config
from .errors import NothingKept, UsageError

__all__ = ["workspace_dir", "in_workspace", "kept_paths", "nothing_kept_message", "check_workspace",
           "announce_workspace", "STORAGE_KEYS", "GOES_ON"]

# the config keys that name where facecam keeps things: relative values lie in the workspace
_KEPT_KEYS = ("train.data", "train.model", "train.cache_dir", "faces.folder", "review.sheets", "log.path",
              "log.registry", "events.database")  # what a workspace holds once anything was enrolled or kept
# the `s` key's pictures and the API tokens are not what is kept about people
STORAGE_KEYS = (*_KEPT_KEYS, "overlay.snapshot_dir", "web.tokens")
# the command-line flags that name where things are kept (see facecore.app.FLAG_KEYS)
_PATH_FLAGS = ("data", "model", "faces", "log", "sheets", "snapshots")
# A command's ``when_empty`` default says what it does in a workspace that holds nothing yet:
# absent, it writes there (``announce_workspace`` names a new one when the work starts); an exit
# code, or a function of the arguments giving one, refuses in one line (it only reads or manages
# what is kept); GOES_ON: neither (it reads elsewhere and says what is missing itself).
GOES_ON = "goes on"


def workspace_dir(given: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The workspace as an absolute path: ``given`` (``--workspace``), else ``FACECAM_HOME``, else
    the current folder. One that exists must be a folder (``UsageError``)."""
    origin, chosen = ("--workspace", given) if given else ("FACECAM_HOME", environ.get("FACECAM_HOME", ""))
    if not chosen:
        return Path.cwd()
    path = Path(os.path.abspath(Path(chosen).expanduser()))
    if path.exists() and not path.is_dir():
        raise UsageError(f"{origin} {chosen}: not a folder (a workspace is a folder holding data/, models/, logs/)")
    return path


def in_workspace(config: Config, root: Path) -> Config:
    """``config`` with each relative ``STORAGE_KEYS`` path taken inside ``root`` (an empty value,
    which turns a store off, stays empty). In the current folder they are left as they are."""
    if root == Path.cwd():
        return config
    changes: dict[str, dict[str, str]] = {}
    for dotted in STORAGE_KEYS:
        section, key = dotted.split(".")
        value = getattr(getattr(config, section), key)
        if value and not Path(value).expanduser().is_absolute():
            changes.setdefault(section, {})[key] = str(root / value)
    return config.replace(**changes)


def kept_paths(config: Config) -> list[Path]:
    """Those of the config's data, model, cache, faces, review and log paths that exist."""
    paths = [getattr(getattr(config, s), k) for s, k in (d.split(".") for d in _KEPT_KEYS)]
    return [Path(p) for p in paths if p and os.path.lexists(Path(p).expanduser())]


def nothing_kept_message(root: Path, typed: Iterable[str] = ()) -> str:
    """What a command that reads what is enrolled says in a workspace that holds nothing (``typed``:
    the paths given on the command line instead, e.g. ``--data DIR``, named as well)."""
    elsewhere = "".join(f", nor at {flag}" for flag in typed)
    return (f"nobody is enrolled and nothing is kept in the workspace {root} (no data/, models/ or logs/ "
            f"there){elsewhere}: enroll someone with  face-enroll capture NAME, or choose the workspace with "
            f"--workspace DIR or FACECAM_HOME")


def check_workspace(args: Any, config: Config, root: Path) -> None:
    """What a command does when nothing is kept at ``config``'s paths yet (see ``GOES_ON``): a
    writing one notes the new workspace ``root`` in ``args``; a reading one raises ``NothingKept``."""
    when_empty = getattr(args, "when_empty", None)
    if when_empty == GOES_ON or kept_paths(config):
        return
    if when_empty is None:
        args.new_workspace = root
        return
    typed = [f"--{flag} {getattr(args, flag)}" for flag in _PATH_FLAGS if getattr(args, flag, None)]
    raise NothingKept(nothing_kept_message(root, typed), when_empty(args) if callable(when_empty) else when_empty)


def announce_workspace(args: Any, *writes: str | os.PathLike, prog: str = "face-enroll") -> None:
    """Once its arguments are checked and its work starts, a command about to write ``writes`` says
    first which workspace it creates, when one of them lies in a workspace that holds nothing yet:
    ``face-enroll: workspace: /abs/path (new)`` (stderr, as the command's other status lines)."""
    root = getattr(args, "new_workspace", None)
    if root is not None and any(p and Path(os.path.abspath(p)).is_relative_to(root) for p in writes):
        print(f"{prog}: workspace: {root} (new)", file=sys.stderr, flush=True)
        args.new_workspace = None
