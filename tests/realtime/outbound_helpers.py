"""Real parts for the events-out tests: a Mosquitto broker on a free port, an HTTP receiver in a
thread, an MQTT subscriber, and sighting records as the writer publishes them."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

START = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sighting(name: str, source: str = "door", track: int = 1, seconds: float = 0.0, event: int | None = 7,
             snapshot: str = "") -> dict:
    """A record as the writer publishes it: the CSV row's cells plus its event id."""
    return {"time": (START + timedelta(seconds=seconds)).isoformat(timespec="milliseconds"), "name": name,
            "confidence": 0.91, "track": track, "frame": 12, "source_time": seconds, "x1": 1, "y1": 2,
            "x2": 30, "y2": 40, "source": source, "snapshot": snapshot, "event": event}


def wait_for(check, timeout: float = 10.0, every: float = 0.05):
    """``check()``'s first truthy value within ``timeout`` seconds (``None`` if it never came)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check() or None


class Mosquitto:
    """A real broker on 127.0.0.1:``port`` with its config in ``folder``; ``login=(user, password)``
    turns anonymous access off. ``stop()`` and ``start()`` again keep the port."""

    def __init__(self, folder: Path, login: tuple[str, str] | None = None) -> None:
        self.port, self.folder, self.proc = free_port(), folder, None
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "user root",
                 f"log_dest file {folder / 'mosquitto.log'}"]
        if login is None:
            lines.append("allow_anonymous true")
        else:
            passwords = folder / "passwords"
            passwords.write_text("")
            subprocess.run(["mosquitto_passwd", "-b", str(passwords), *login], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> "Mosquitto":
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        if not wait_for(self._listening, 10.0):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}")
        return self

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


def mosquitto_broker(folder: Path, login=None):
    """A started :class:`Mosquitto` (the test is skipped when it is not installed)."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
    return Mosquitto(folder, login).start()


class Listener:
    """A paho client subscribed to ``topics`` on the broker, recording (topic, payload, retained)."""

    def __init__(self, port: int, topics=("#",), login: tuple[str, str] | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listener-{free_port()}")
        if login:
            self.client.username_pw_set(*login)
        self.client.on_message = self._message
        self.client.on_connect = lambda c, u, f, r, p=None: [c.subscribe(t, qos=1) for t in topics]
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))

    def on(self, topic: str) -> list[tuple[str, bool]]:
        with self._lock:
            return [(payload, retained) for t, payload, retained in self.messages if t == topic]

    def json(self, topic: str) -> list[dict]:
        return [json.loads(p) for p, _ in self.on(topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Receiver:
    """An HTTP server in a thread recording each POST (path, headers, JSON body); ``answers``:
    the status codes to answer in turn (then 200); ``port``: 0 for a free one."""

    def __init__(self, answers=(), port: int = 0) -> None:
        self.posts: list[tuple[str, dict, dict]] = []
        self.answers = list(answers)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code = receiver.answers.pop(0) if receiver.answers else 200
                if code == 200:
                    receiver.posts.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook", login: str = "") -> str:
        return f"http://{login + '@' if login else ''}127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
