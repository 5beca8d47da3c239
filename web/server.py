"""Serving the app: the ``[HOST:]PORT`` address and its rule, the listening socket, uvicorn on a
thread (``face-live --web``) or in the foreground (``face-web``).

The socket is bound here, before uvicorn starts, so that an address in use is one clear line
(exit 1) and port 0 picks a free port (the line saying where the app is names it).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from facecore.config import Config
from facecore.errors import FacecamError, UsageError

from .security import check_bind

__all__ = ["parse_address", "check_address", "listen", "WebServer", "start_web", "DEFAULT_HOST"]

DEFAULT_HOST = "127.0.0.1"


def parse_address(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` -> ``(host, port)`` (host ``127.0.0.1`` by default)."""
    text = text.strip()
    host, port = DEFAULT_HOST, text
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        host, port = inside, rest[1:] if rest.startswith(":") else ""
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--web {text!r}: expected [HOST:]PORT, such as 8080 or 0.0.0.0:8080 (port 0..65535)")
    return host, int(port)


def check_address(text: str, config: Config) -> tuple[str, int]:
    """:func:`parse_address`, then the bind rule (another host than loopback needs a password)."""
    host, port = parse_address(text)
    check_bind(host, config.web)
    return host, port


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``; ``FacecamError`` (one line) when it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot serve on {host}:{port}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise FacecamError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


class WebServer:
    """uvicorn serving ``app`` on the socket ``sock``; :meth:`start` on a thread, :meth:`run` here."""

    def __init__(self, app, sock: socket.socket) -> None:
        import uvicorn

        self.sock = sock
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                                    ws_max_size=1 << 20, timeout_graceful_shutdown=2))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM (in the main thread)."""
        self.server.run(sockets=[self.sock])

    def start(self, wait_s: float = 10.0) -> "WebServer":
        """Serve on a thread; returns once it answers (``FacecamError`` when it could not start)."""
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name="facecam-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + wait_s
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise FacecamError(f"the web app did not start on {self.url}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(5.0)
        self.sock.close()


def start_web(config: Config, root: Path, hub, sources: list[str], host: str, port: int) -> WebServer:
    """The app around face-live's ``hub`` and ``sources``, served on a thread (``face-live --web``)."""
    from .app import create_app
    from .context import WebContext

    sock = listen(host, port)
    return WebServer(create_app(WebContext(config, root, hub, list(sources))), sock).start()
