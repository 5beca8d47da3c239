"""Webhooks on a real HTTP receiver (a server on a free port in a thread), and the notify
policy: which sightings are sent, the body, retries with backoff, drops reported once with the
URL masked."""

from __future__ import annotations

import base64
import io
import logging
import time

import pytest

from outbound_helpers import Receiver, free_port, sighting, wait_for
from realtime.events.hub import SIGHTING, Hub
from realtime.events.notices import NotifyPolicy, notice
from realtime.events.webhooks import WebhookTarget


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _target(hub: Hub, url: str, notify: str = "all", cooldown_s: float = 60.0, **kw) -> WebhookTarget:
    return WebhookTarget(url, hub.subscribe([SIGHTING]), NotifyPolicy(notify, cooldown_s), **kw).start()


def test_each_notified_sighting_is_posted_as_json_with_basic_auth_from_the_url(receiver):
    hub = Hub()
    target = _target(hub, receiver.url(login="hooks:s3cret"))
    hub.publish(SIGHTING, sighting("Ada", snapshot="data/faces/2026/x-4f2a.jpg", event=12))
    hub.publish(SIGHTING, sighting("unknown", source="desk", track=5, event=None))
    assert wait_for(lambda: len(receiver.posts) == 2)
    target.close()
    (path, headers, ada), (_, _, stranger) = receiver.posts
    assert path == "/hook" and headers["Content-Type"] == "application/json"
    assert base64.b64decode(headers["Authorization"].split()[1]) == b"hooks:s3cret"
    assert ada == {"type": "recognized", "name": "Ada", "source": "door", "start": "2026-12-07T09:00:00.000+00:00",
                   "confidence": 0.91, "event": 12, "face": "x-4f2a"}
    assert stranger["type"] == "unknown" and stranger["source"] == "desk" and stranger["event"] is None
    assert stranger["face"] is None and target.sent == 2 and target.drops.total == 0


@pytest.mark.parametrize("notify, sent", [("all", ["Ada", "unknown"]), ("named", ["Ada"]), ("unknown", ["unknown"])])
def test_notify_policy_picks_named_or_strangers(notify, sent):
    policy = NotifyPolicy(notify, 60.0)
    records = [sighting("Ada"), sighting("unknown", track=3)]
    assert [r["name"] for r in records if policy.admit(r)] == sent


def test_cooldown_is_per_person_and_source_and_strangers_count_per_track():
    policy = NotifyPolicy("all", cooldown_s=60.0)
    rows = [sighting("Ada", "door", seconds=0), sighting("Ada", "door", seconds=30),  # within the cooldown
            sighting("Ada", "desk", seconds=31),  # another source: its own window
            sighting("Bob", "door", seconds=32),  # another person
            sighting("Ada", "door", seconds=61),  # the window has passed
            sighting("unknown", "door", track=4, seconds=1), sighting("unknown", "door", track=4, seconds=90),
            sighting("unknown", "door", track=5, seconds=2), sighting("unknown", "desk", track=4, seconds=3)]
    picked = [(r["name"], r["source"], r["source_time"]) for r in rows if policy.admit(r)]
    assert picked == [("Ada", "door", 0), ("Ada", "desk", 31), ("Bob", "door", 32), ("Ada", "door", 61),
                      ("unknown", "door", 1), ("unknown", "door", 2), ("unknown", "desk", 3)]


def test_a_500_is_retried_and_the_event_arrives_once():
    receiver = Receiver(answers=[500, 503])
    try:
        hub = Hub()
        target = _target(hub, receiver.url(), backoff_s=0.05)
        hub.publish(SIGHTING, sighting("Ada"))
        assert wait_for(lambda: receiver.posts)
        target.close()
        assert [body["name"] for _, _, body in receiver.posts] == ["Ada"] and receiver.answers == []
        assert target.sent == 1 and target.drops.total == 0
    finally:
        receiver.close()


def test_a_target_that_is_down_drops_after_retries_with_one_masked_warning(caplog, capsys):
    url = f"http://hooks:s3cret@127.0.0.1:{free_port()}/hook?token=t0ken"  # nothing listens there
    hub = Hub()
    caplog.set_level(logging.DEBUG)
    target = _target(hub, url, backoff_s=0.01, tries=3)
    for i in range(3):
        hub.publish(SIGHTING, sighting("Ada", seconds=100 * i))
    assert wait_for(lambda: target.drops.total == 3)
    target.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["webhook http://hooks:***@127.0.0.1:%d/hook?token=***: 3 events dropped "
                        "(connection refused, after 3 tries)" % int(url.split(":")[3].split("/")[0])]
    everything = caplog.text + "".join(capsys.readouterr())
    assert "s3cret" not in everything and "t0ken" not in everything


def _slow_post(*args, **kwargs):
    time.sleep(0.5)
    return io.BytesIO(b"")


def test_a_slow_target_never_blocks_the_publisher_and_loses_its_oldest():
    hub = Hub()
    target = WebhookTarget("http://127.0.0.1:9/hook", hub.subscribe([SIGHTING], maxsize=10), NotifyPolicy("all", 0.0),
                           opener=_slow_post).start()
    start = time.perf_counter()
    for i in range(200):
        hub.publish(SIGHTING, sighting("Ada", seconds=i))
    assert time.perf_counter() - start < 1.0
    target.close()
    assert target.sent >= 1 and target.sent + target.drops.total == 200


def test_the_body_of_a_notice_has_exactly_the_documented_keys():
    assert set(notice(sighting("Ada"))) == {"type", "name", "source", "start", "confidence", "event", "face"}
