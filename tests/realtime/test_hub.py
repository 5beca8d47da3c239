"""The hub: every subscriber hears what is published, a slow one loses its oldest messages and
never blocks the publisher, and closing wakes readers."""

from __future__ import annotations

import threading
import time

import pytest

from realtime.events.hub import SIGHTING, VIEW, Hub


def test_every_subscriber_gets_each_message_of_its_kinds_in_order():
    hub = Hub()
    everything, sightings = hub.subscribe(), hub.subscribe([SIGHTING])
    for i in range(3):
        hub.publish(SIGHTING, {"n": i})
    hub.publish(VIEW, {"source": "door"})
    assert [everything.get(0).record for _ in range(4)] == [{"n": 0}, {"n": 1}, {"n": 2}, {"source": "door"}]
    assert [sightings.get(0).record["n"] for _ in range(3)] == [0, 1, 2]
    assert sightings.get(0) is None  # the view was not for it


def test_a_consumer_that_never_reads_loses_its_oldest_and_never_blocks_the_publisher():
    hub = Hub()
    stuck, reader = hub.subscribe(maxsize=5), hub.subscribe(maxsize=100_000)
    start = time.perf_counter()
    for i in range(20_000):
        hub.publish(SIGHTING, {"n": i})
    assert time.perf_counter() - start < 5.0  # nothing waited for the stuck consumer
    assert stuck.dropped == 20_000 - 5 and [stuck.get(0).record["n"] for _ in range(5)] == list(range(19_995, 20_000))
    assert reader.dropped == 0 and reader.pending() == 20_000


def test_closing_wakes_a_waiting_reader_and_ends_its_iteration():
    hub = Hub()
    subscription = hub.subscribe()
    got = []
    reader = threading.Thread(target=lambda: got.extend(m.record["n"] for m in subscription))
    reader.start()
    hub.publish(SIGHTING, {"n": 1})
    time.sleep(0.05)
    hub.close()
    reader.join(5)
    assert not reader.is_alive() and got == [1]
    assert hub.subscribers() == 0
    hub.publish(SIGHTING, {"n": 2})  # nobody listens any more: nothing happens
    assert subscription.get(0) is None


def test_a_queue_must_hold_something():
    with pytest.raises(ValueError):
        Hub().subscribe(maxsize=0)
