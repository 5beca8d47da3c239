"""MQTT out, with Home Assistant discovery (``[events] mqtt``; needs ``paho-mqtt``).

Topics (``<source>``/``<person>``: :func:`slug` of the name; :data:`PREFIX` = ``facecam``):

- ``facecam/<source>/event``: each notification (the webhook body, :func:`~realtime.events.notices.notice`),
  as the notify policy picks them (QoS 1, not retained);
- ``facecam/<person>/last_seen``: ``{"name", "source", "time"}`` of the person's newest logged
  row (retained; every row, whatever the notify policy);
- ``facecam/<source>/in_view``: ``{"source", "names", "unknown", "count", "time"}``: the people
  (and the number of stranger tracks) logged there in the last :data:`IN_VIEW_S` seconds
  (retained; published when it changes);
- ``facecam/status``: ``online`` while face-live runs, ``offline`` after (retained; the
  broker's last will says ``offline`` if face-live dies);
- ``homeassistant/sensor/facecam/person_<person>/config`` and ``.../source_<source>/config``:
  discovery configs (retained), published at each (re)connection: one sensor per enrolled
  person (state: their last source; attributes: name, source, time) and one per source
  (state: how many are in view; attributes: names, unknown).

A broker that is down at the start or goes away is reconnected by paho's own loop
(``loop_start``, ``reconnect_delay_set``); meanwhile notifications wait in a bounded queue
(oldest dropped, counted, reported in one warning line) and the retained states keep only
their newest value, which is sent once it is back. Recognition and the CSV log never wait for
it: everything here runs on :class:`MqttTarget`'s thread and paho's.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from datetime import datetime
from typing import Any, Iterable
from urllib.parse import unquote, urlsplit

from facecore.errors import UsageError
from facecore.faces import UNKNOWN
from facecore.urls import mask_url

from .hub import Subscription
from .notices import Drops, NotifyPolicy, notice

__all__ = ["MqttTarget", "require_paho", "slug", "discovery", "PREFIX", "DISCOVERY", "STATUS", "IN_VIEW_S",
           "MAXSIZE", "CLOSE_WAIT_S", "INSTALL_HINT"]

log = logging.getLogger(__name__)
PREFIX, DISCOVERY = "facecam", "homeassistant"
STATUS = f"{PREFIX}/status"
IN_VIEW_S = 10.0  # a name counts as "in view" this long after its newest logged row
MAXSIZE = 1000  # notifications waiting for the broker (oldest dropped)
CLOSE_WAIT_S = 2.0  # at the end of the run, how long what still waits may take to go out
TICK_S = 0.5  # how often the thread looks at the connection and the in-view lists
INSTALL_HINT = "pip install -e '.[mqtt]'"
DEVICE = {"identifiers": ["facecam"], "name": "facecam", "manufacturer": "facecam", "model": "face-live"}


def require_paho() -> None:
    """``UsageError`` (one line, with the install command) when paho-mqtt is not installed."""
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        raise UsageError(f"events.mqtt needs the paho-mqtt package: {INSTALL_HINT}") from None


def slug(name: str) -> str:
    """``name`` as one MQTT topic level and a Home Assistant object id: lower case letters,
    digits, ``_`` and ``-`` only (so never ``+``, ``#`` or ``/``); ``_`` when nothing is left."""
    return re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_") or "_"


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def discovery(kind: str, name: str) -> tuple[str, str]:
    """The discovery topic and config (JSON) of the sensor of a ``person`` or a ``source`` called ``name``."""
    key = slug(name)
    if kind == "person":
        state, config = f"{PREFIX}/{key}/last_seen", {"name": f"{name} last seen", "icon": "mdi:account-eye",
                                                       "value_template": "{{ value_json.source }}"}
    else:
        state, config = f"{PREFIX}/{key}/in_view", {"name": f"{name} in view", "icon": "mdi:cctv",
                                                     "unit_of_measurement": "people", "state_class": "measurement",
                                                     "value_template": "{{ value_json.count }}"}
    config.update(unique_id=f"facecam_{kind}_{key}", object_id=f"facecam_{kind}_{key}", state_topic=state,
                  json_attributes_topic=state, availability_topic=STATUS, device=DEVICE)
    return f"{DISCOVERY}/sensor/{PREFIX}/{kind}_{key}/config", json.dumps(config)


class _Broker:
    """Where to connect: host, port, TLS and login of an ``mqtt://``/``mqtts://`` URL."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme.lower() == "mqtts"
        self.host, self.port = parts.hostname or "", parts.port or (8883 if self.tls else 1883)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password is not None else None


class MqttTarget:
    """Publishes the sightings of ``subscription`` to the broker at ``url`` (see the module).

    ``people``: the enrolled names (one sensor each); ``sources``: the source names (one sensor
    each); more appear as their rows come.
    """

    def __init__(self, url: str, subscription: Subscription, policy: NotifyPolicy, people: Iterable[str] = (),
                 sources: Iterable[str] = (), maxsize: int = MAXSIZE, in_view_s: float = IN_VIEW_S) -> None:
        self.shown, sources = mask_url(url), list(sources)
        self._subscription, self._policy, self._in_view_s = subscription, policy, in_view_s
        self.sent = 0
        self.drops = Drops(f"MQTT broker {self.shown}")
        self._events: deque[tuple[str, str]] = deque()
        self._maxsize = maxsize
        self._states: dict[str, str] = {}  # retained topic -> newest payload
        self._dirty: set[str] = set()
        self._sensors = {("person", p) for p in people if p and p != UNKNOWN} | {("source", s) for s in sources}
        self._seen: dict[str, dict[str, float]] = {}  # source -> {name or stranger key: monotonic time}
        self._new_sensors: set[tuple[str, str]] = set()
        self._connected, self._generation, self._published_generation = threading.Event(), 0, -1
        self._lost = False
        self._stop = threading.Event()
        self._client = self._make_client(_Broker(url))
        for source in sources:
            self._publish_in_view(source)  # every source's sensor starts at 0, not "unknown"
        self._thread = threading.Thread(target=self._run, name="mqtt out", daemon=True)

    def _make_client(self, broker: _Broker):
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"facecam-{uuid.uuid4().hex[:12]}")
        if broker.user is not None:
            client.username_pw_set(broker.user, broker.password)
        if broker.tls:
            client.tls_set()
        client.will_set(STATUS, "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, 30)
        client.max_queued_messages_set(self._maxsize)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.connect_async(broker.host, broker.port, keepalive=30)
        return client

    def start(self) -> "MqttTarget":
        self._client.loop_start()
        self._thread.start()
        return self

    # paho's thread -----------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        if getattr(reason, "is_failure", False):
            self._say_lost(f"refused: {reason}")
            return
        self._generation += 1
        self._connected.set()
        if self._lost:
            log.warning("MQTT broker %s: connected again", self.shown)
            self._lost = False

    def _on_disconnect(self, client, userdata, flags, reason, properties=None) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            self._say_lost(f"connection lost: {reason}")

    def _on_connect_fail(self, client, userdata) -> None:
        self._say_lost("cannot connect")

    def _say_lost(self, why: str) -> None:
        if not self._lost:
            log.warning("MQTT broker %s: %s; reconnecting, up to %d notifications wait meanwhile",
                        self.shown, why, self._maxsize)
        self._lost = True

    # this target's thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._subscription.get(timeout=TICK_S)
            self.drops.add_queue_drops(self._subscription)
            if message is not None:
                self._take(message.record)
            elif self._subscription.closed:
                self._drain()
                return
            self._expire()
            if self._connected.is_set():
                self._flush()

    def _drain(self) -> None:
        """At the end: what still waits gets up to ``CLOSE_WAIT_S`` to reach the broker."""
        deadline = time.monotonic() + CLOSE_WAIT_S
        while (self._events or self._dirty) and time.monotonic() < deadline and not self._stop.is_set():
            if self._connected.is_set():
                self._flush()
            self._stop.wait(0.05)

    def _take(self, record: dict[str, Any]) -> None:
        """Note a sighting: last seen, in view, and the notification when the policy picks it."""
        name, source = str(record.get("name") or ""), str(record.get("source") or "")
        if name and name != UNKNOWN:
            self._sense("person", name)
            self._state(f"{PREFIX}/{slug(name)}/last_seen",
                        {"name": name, "source": source, "time": str(record.get("time") or "")})
        if source:
            self._sense("source", source)
            who = name if name != UNKNOWN else f"{UNKNOWN}\0{record.get('track')}"
            before = set(self._seen.setdefault(source, {}))
            self._seen[source][who] = time.monotonic()
            if who not in before:
                self._publish_in_view(source)
        if self._policy.admit(record):
            if len(self._events) >= self._maxsize:
                self._events.popleft()
                self.drops.add(1, "the broker was unreachable and the queue full")
            self._events.append((f"{PREFIX}/{slug(source)}/event", json.dumps(notice(record))))

    def _sense(self, kind: str, name: str) -> None:
        if (kind, name) not in self._sensors:
            self._sensors.add((kind, name))
            self._new_sensors.add((kind, name))  # its discovery config goes out with the next flush

    def _state(self, topic: str, payload: dict) -> None:
        self._states[topic] = json.dumps(payload)
        self._dirty.add(topic)

    def _publish_in_view(self, source: str) -> None:
        seen = self._seen.get(source, {})
        names = sorted(n for n in seen if not n.startswith(f"{UNKNOWN}\0"))
        unknown = len(seen) - len(names)
        self._state(f"{PREFIX}/{slug(source)}/in_view",
                    {"source": source, "names": names, "unknown": unknown, "count": len(seen), "time": _now()})

    def _expire(self) -> None:
        """Drop the names not logged in the last ``in_view_s`` seconds (their sensor changes)."""
        oldest = time.monotonic() - self._in_view_s
        for source, seen in self._seen.items():
            gone = [who for who, when in seen.items() if when < oldest]
            for who in gone:
                del seen[who]
            if gone:
                self._publish_in_view(source)

    def _flush(self) -> None:
        """While connected: discovery after each (re)connection, then the changed states, then
        the waiting notifications, oldest first."""
        if self._published_generation != self._generation:  # a new connection: everything again
            self._published_generation = self._generation
            self._send(STATUS, "online", retain=True)
            self._new_sensors, self._dirty = set(self._sensors), set(self._states)
        for kind, name in sorted(self._new_sensors):
            if not self._send(*discovery(kind, name), retain=True):
                return
            self._new_sensors.discard((kind, name))
        for topic in sorted(self._dirty):
            if not self._send(topic, self._states[topic], retain=True):
                return
            self._dirty.discard(topic)
        while self._events and self._connected.is_set():
            if not self._send(*self._events[0], retain=False):
                return
            self._events.popleft()
            self.sent += 1
        if not self._events:
            self.drops.say()

    def _send(self, topic: str, payload: str, retain: bool) -> bool:
        """Hand one message to paho (QoS 1: it keeps it through a reconnection); False when its
        own queue is full."""
        import paho.mqtt.client as mqtt

        info = self._client.publish(topic, payload, qos=1, retain=retain)
        return info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)

    def close(self) -> None:
        """Stop: what waits gets up to ``CLOSE_WAIT_S`` to go out, ``facecam/status`` says
        ``offline``, then the connection closes; the drops not yet reported are."""
        self._subscription.close()
        self._thread.join(CLOSE_WAIT_S + 2 * TICK_S)
        self._stop.set()
        self._thread.join(2 * TICK_S)
        self.drops.add(len(self._events), "face-live stopped before the broker took them")
        self._events.clear()
        if self._connected.is_set():
            info = self._client.publish(STATUS, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(CLOSE_WAIT_S)
            except (RuntimeError, ValueError):  # not queued: the connection went meanwhile
                pass
        self._client.disconnect()
        self._client.loop_stop()
        self.drops.say()
