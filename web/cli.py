"""``face-web``: the web app without cameras, for people, review, events and the API.

``face-web [HOST:]PORT`` serves until Ctrl-C (``127.0.0.1`` unless a host is given; any other
needs ``web.password`` or ``web.password_hash``). ``--new-token`` makes an API token and prints
it once; ``--hash-password`` prints the ``web.password_hash`` of a password read from stdin.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from facecore.app import (add_common_options, detach_python_stderr, exit_fast, load_command_config, quiet_tensorflow,
                          run_guarded, setup_logging)
from facecore.errors import UsageError
from facecore.workspace import GOES_ON

from .security import TokenStore, hash_password
from .server import check_address, listen

__all__ = ["main", "build_parser", "console"]

PROG = "face-web"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Serve facecam's web app: people, review, events, the API.")
    p.add_argument("address", nargs="?", metavar="[HOST:]PORT",
                   help="where to serve, e.g. 8080 (127.0.0.1:8080) or 0.0.0.0:8080 (needs a password)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--new-token", nargs="?", const="", metavar="LABEL",
                      help="make an API token (Authorization: Bearer TOKEN), print it once, and exit")
    what.add_argument("--hash-password", action="store_true",
                      help="read a password on stdin, print its web.password_hash line, and exit")
    add_common_options(p)
    p.set_defaults(when_empty=GOES_ON)
    return p


def _hash_password() -> int:
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise UsageError("the password must have at least 8 characters")
    print(f'password_hash = "{hash_password(password)}"')
    return 0


def _serve(args) -> int:
    from .app import create_app
    from .context import WebContext
    from .server import WebServer

    config = load_command_config(args)
    if args.new_token is not None:
        token = TokenStore(config.web.tokens).new(args.new_token)
        print(token)
        print(f"{PROG}: a new API token, shown once (its hash is kept in {config.web.tokens}): "
              f"send it as  Authorization: Bearer TOKEN", file=sys.stderr)
        return 0
    if not args.address:
        raise UsageError("give where to serve: face-web [HOST:]PORT, e.g. face-web 8080")
    host, port = check_address(args.address, config)
    server = WebServer(create_app(WebContext(config, args.workspace_root)), listen(host, port))
    print(f"{PROG}: serving {server.url} (workspace {args.workspace_root}); Ctrl-C stops", file=sys.stderr,
          flush=True)
    server.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow()
    args = build_parser().parse_args(argv)
    setup_logging(args.debug)
    if args.hash_password:
        return run_guarded(PROG, _hash_password, args.debug)
    return run_guarded(PROG, lambda: _serve(args), args.debug)


def console() -> None:
    """The installed command: ``main`` on the command line, then a fast exit."""
    detach_python_stderr()
    exit_fast(main())


if __name__ == "__main__":
    console()
