"""What keeps a ``face-live --engine ray`` run from hanging or leaving things behind.

- :func:`check_address`: ``--ray-address`` is read (``HOST:PORT``, ``auto`` or
  ``ray://HOST:PORT``) and, where it names a host, resolved and connected to, before Ray is
  asked to join it: a wrong address is one line at once, not a silent wait.
- :func:`bounded`: a call that may hang (``ray.init`` on a cluster that does not answer,
  ``ray.shutdown`` once the node is gone) gets a limit in seconds.
- :func:`ray_messages_to_debug`: what Ray's driver prints about its processes (a worker
  or a raylet that died, with ANSI colours) goes to facecam's log at DEBUG level
  (``--debug``) instead of the terminal; facecam says what happened in its own words.
- :class:`NodeWatch`: a look, every few seconds, at whether this machine's raylet and the
  cluster's GCS still accept connections: a killed raylet is known within seconds.
- :class:`RunProcesses`: the processes of a local Ray this run started (its servers, and
  the workers they start), noted as they appear, so that whatever ``ray.shutdown`` cannot
  reach is ended at the end.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
import time
from typing import Callable, TypeVar

from facecore.errors import FacecamError, UsageError

__all__ = ["check_address", "bounded", "ray_messages_to_debug", "plain", "NodeWatch", "RunProcesses",
           "CONNECT_S"]

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECT_S = 5.0  # a host that takes longer to accept a connection is taken as unreachable
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ADDRESS_FORMS = "HOST:PORT (such as 10.0.0.5:6379), auto, or ray://HOST:PORT"


def plain(text: str) -> str:
    """The first line of ``text``, without ANSI colour codes."""
    lines = _ANSI.sub("", str(text)).strip().splitlines()
    return lines[0].strip() if lines else ""


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` (a ``[v6]`` host keeps no brackets); ``None`` when it is not one."""
    host, sep, port = address.rpartition(":")
    if not sep or not _HOST.match(host) or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def check_address(address: str) -> None:
    """``UsageError`` (exit 2) when ``address`` is none of ``HOST:PORT``, ``auto``,
    ``ray://HOST:PORT``; ``FacecamError`` (exit 1) when its host has no address or nothing
    accepts a connection at its port within :data:`CONNECT_S` seconds. ``""``: a local Ray."""
    if address in ("", "auto"):
        return
    target = _host_port(address[len("ray://"):] if address.startswith("ray://") else address)
    if target is None:
        raise UsageError(f"ray address {address!r} is not {_ADDRESS_FORMS}")
    host, port = target
    try:
        found = bounded(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), 10.0)
    except (OSError, TimeoutError):
        raise FacecamError(f"cannot reach the Ray cluster at {address}: no host named {host!r} was found; "
                           f"check the address (--ray-address, ray.address)") from None
    try:
        with socket.create_connection(found[0][4][:2], timeout=CONNECT_S):
            pass
    except OSError as exc:
        why = "connection refused" if isinstance(exc, ConnectionRefusedError) else (
            f"no answer within {CONNECT_S:.0f} s" if isinstance(exc, TimeoutError) else exc.strerror or str(exc))
        raise FacecamError(f"cannot reach the Ray cluster at {address}: {why}; check that its head node runs "
                           f"(ray start --head --port {port}) and that this machine can reach {host} on port "
                           f"{port}") from None


def bounded(func: Callable[[], T], seconds: float) -> T:
    """``func()`` on a thread, waited for at most ``seconds``: its value, or what it raised, or
    ``TimeoutError`` (the thread is left to finish, or to end with the process)."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="facecam-bounded", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def ray_messages_to_debug() -> None:
    """Send what Ray's driver prints about its processes to this module's log (DEBUG, no
    colours). Ray prints them from a thread of its own through ``print_to_stdstream``, whether
    or not ``log_to_driver`` is set."""
    from ray._private import worker

    def to_log(data: dict, ignore_prefix: bool = False) -> None:
        for line in data.get("lines", []):
            log.debug("ray (%s): %s", data.get("pid", ""), _ANSI.sub("", line))

    if hasattr(worker, "print_to_stdstream"):
        worker.print_to_stdstream = to_log


def _connects(host: str, port: int) -> bool | None:
    """True when ``host:port`` accepts a connection, False when refused, ``None`` when unsure."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return None


class NodeWatch:
    """Whether this machine's raylet and the cluster's GCS are still there. ``lost()`` looks at
    most every ``every_s`` seconds: a refused connection, or three looks in a row without an
    answer, and it returns what was lost."""

    def __init__(self, every_s: float = 2.0) -> None:
        import ray

        self.every_s, self._next, self._unsure = every_s, 0.0, 0
        self.targets: dict[str, tuple[str, int]] = {}
        try:
            context = ray.get_runtime_context()
            node_id = context.get_node_id()
            for node in ray.nodes():
                if node.get("NodeID") == node_id:
                    self.targets["the Ray node on this machine (its raylet)"] = (node["NodeManagerAddress"],
                                                                                   int(node["NodeManagerPort"]))
            gcs = _host_port(context.gcs_address or "")
        except (AttributeError, KeyError, RuntimeError, ValueError) as exc:  # Ray Client: no node here
            log.debug("the Ray node is not watched: %s", exc)
            return
        if gcs is not None:
            self.targets["the Ray cluster's head (its GCS)"] = gcs

    def lost(self) -> str | None:
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + self.every_s
        unsure = False
        for what, (host, port) in self.targets.items():
            answer = _connects(host, port)
            if answer is False:
                return f"{what} at {host}:{port} stopped; the run cannot go on"
            unsure = unsure or answer is None
        self._unsure = self._unsure + 1 if unsure else 0
        return "the Ray cluster stopped answering" if self._unsure >= 3 else None


def _processes() -> dict[int, tuple[int, int]]:
    """``{pid: (parent pid, start time in clock ticks)}`` of every process that runs (not a zombie),
    from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z":
            table[int(name)] = (int(fields[1]), int(fields[19]))
    return table


class RunProcesses:
    """The processes started under this one since it was made (a local Ray's servers and their
    workers), noted by ``note()`` while they are this process's descendants (a worker whose raylet
    died is no longer one). ``end()`` ends those still running: SIGTERM, then SIGKILL after
    ``grace_s``."""

    def __init__(self) -> None:
        self.available = os.path.isdir("/proc")
        self.seen: dict[int, int] = {}  # pid -> start time (a reused pid is another process)
        self.note()
        self.before, self.seen = self.seen, {}  # what ran under this process before: not this run's

    def note(self) -> None:
        if not self.available:
            return
        table = _processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _) in table.items():
            children.setdefault(parent, []).append(pid)
        todo = list(children.get(os.getpid(), []))
        while todo:
            pid = todo.pop()
            if getattr(self, "before", {}).get(pid) == table[pid][1]:
                continue  # started before this run, with all under it
            self.seen[pid] = table[pid][1]
            todo.extend(children.get(pid, []))

    def running(self) -> list[int]:
        table = _processes() if self.available else {}
        return [pid for pid, start in self.seen.items() if pid in table and table[pid][1] == start]

    def end(self, grace_s: float = 3.0) -> int:
        """End what is still running; returns how many there were."""
        left = self.running()
        count = len(left)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in left:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 0.0)
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left = [pid for pid in self.running() if pid in left]
            if not left:
                break
        if count:
            log.debug("ended %d processes of the local Ray that were left running", count)
        return count
