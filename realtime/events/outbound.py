"""Events out: start the webhook and MQTT targets of ``[events]`` on the hub, and stop them.

:func:`start_outputs` is face-live's one call: each webhook URL and the MQTT broker get their
own hub queue (``QUEUE_SIZE`` sightings, oldest dropped when a target falls behind), their own
notify policy and their own thread, so a slow or unreachable target never holds up another,
nor recognition, nor the CSV log. It returns the function that stops them at the end of the
run. The settings (URLs, ``notify``, ``cooldown_s``) were checked when the config was loaded;
an ``mqtt`` setting without paho-mqtt installed is a ``UsageError`` here, before any thread.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable

from facecore.config import Config
from facecore.source_names import named_sources

from .hub import SIGHTING, Hub
from .notices import NotifyPolicy
from .webhooks import WebhookTarget

__all__ = ["start_outputs", "check_outputs", "QUEUE_SIZE"]

QUEUE_SIZE = 1000  # sightings waiting for one target before its oldest are dropped


def check_outputs(config: Config) -> None:
    """``UsageError`` now, before any source is opened, for what :func:`start_outputs` would
    refuse: an ``mqtt`` setting without paho-mqtt installed."""
    if config.events.mqtt:
        from .mqtt import require_paho

        require_paho()


def start_outputs(config: Config, hub: Hub, people: Iterable[str] = ()) -> Callable[[], None]:
    """Start a thread per target of ``config.events`` reading ``hub``'s sightings; ``people``: the
    enrolled names (the bundle's labels; one Home Assistant sensor each). Returns ``close()``:
    what is still queued gets a moment to go out, then the threads end and any drops are
    reported. Nothing is started (and ``close`` does nothing) without targets."""
    events = config.events
    policy = lambda: NotifyPolicy(events.notify, events.cooldown_s)  # noqa: E731 - one per target
    targets: list = []
    if events.mqtt:
        from .mqtt import MqttTarget, require_paho

        require_paho()
        sources = [spec.name for spec in named_sources(config.sources)]
        targets.append(MqttTarget(events.mqtt, hub.subscribe([SIGHTING], QUEUE_SIZE), policy(), people, sources))
    targets += [WebhookTarget(url, hub.subscribe([SIGHTING], QUEUE_SIZE), policy()) for url in events.webhooks]
    for target in targets:
        target.start()

    def close() -> None:  # all at once: one target's last retries do not hold up another's
        closing = [threading.Thread(target=target.close, name="events out: close") for target in targets]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()

    return close
