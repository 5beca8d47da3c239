"""MQTT out on a real Mosquitto broker (started on a free port for each test; skipped when
mosquitto is not installed): topics, payloads, retained flags, Home Assistant discovery, a
login, and a broker that goes away and comes back."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (pip install -e '.[dev]')")

from outbound_helpers import Listener, mosquitto_broker, sighting, wait_for  # noqa: E402
from realtime.events.hub import SIGHTING, Hub  # noqa: E402
from realtime.events.mqtt import MqttTarget, slug  # noqa: E402
from realtime.events.notices import NotifyPolicy  # noqa: E402


@pytest.fixture
def broker(tmp_path):
    server = mosquitto_broker(tmp_path)
    yield server
    server.stop()


def _target(hub: Hub, url: str, notify: str = "all", **kw) -> MqttTarget:
    return MqttTarget(url, hub.subscribe([SIGHTING]), NotifyPolicy(notify, 60.0), **kw).start()


def test_events_last_seen_in_view_and_discovery_are_published(broker):
    listener = Listener(broker.port)
    hub = Hub()
    target = _target(hub, f"mqtt://127.0.0.1:{broker.port}", people=["Ada Lovelace", "Bob"], sources=["front/door"],
                     in_view_s=1.0)
    assert wait_for(lambda: listener.on("facecam/status"))
    hub.publish(SIGHTING, sighting("Ada Lovelace", "front/door", event=3))
    hub.publish(SIGHTING, sighting("unknown", "front/door", track=9))
    assert wait_for(lambda: len(listener.on("facecam/front_door/event")) == 2)
    ada, stranger = listener.json("facecam/front_door/event")
    assert ada["type"] == "recognized" and ada["name"] == "Ada Lovelace" and ada["event"] == 3
    assert stranger["type"] == "unknown" and not any(r for _, r in listener.on("facecam/front_door/event"))
    assert listener.json("facecam/ada_lovelace/last_seen")[-1] == {
        "name": "Ada Lovelace", "source": "front/door", "time": "2026-12-07T09:00:00.000+00:00"}
    views = wait_for(lambda: [v for v in listener.json("facecam/front_door/in_view") if v["count"] == 2])
    assert views[-1]["names"] == ["Ada Lovelace"] and views[-1]["unknown"] == 1
    assert wait_for(lambda: listener.json("facecam/front_door/in_view")[-1]["count"] == 0, 5.0)  # they left
    person = json.loads(listener.on("homeassistant/sensor/facecam/person_ada_lovelace/config")[-1][0])
    assert person["state_topic"] == person["json_attributes_topic"] == "facecam/ada_lovelace/last_seen"
    assert person["unique_id"] == "facecam_person_ada_lovelace" and person["device"]["identifiers"] == ["facecam"]
    assert person["value_template"] == "{{ value_json.source }}" and person["availability_topic"] == "facecam/status"
    source = json.loads(listener.on("homeassistant/sensor/facecam/source_front_door/config")[-1][0])
    assert source["state_topic"] == "facecam/front_door/in_view" and source["unique_id"] == "facecam_source_front_door"
    assert listener.on("homeassistant/sensor/facecam/person_bob/config")  # enrolled, not seen yet
    hub.publish(SIGHTING, sighting("Cy", "hall"))  # enrolled after the start, and a source not configured
    assert wait_for(lambda: listener.on("homeassistant/sensor/facecam/person_cy/config"))
    assert wait_for(lambda: listener.on("homeassistant/sensor/facecam/source_hall/config"))
    target.close()
    listener.close()
    late = Listener(broker.port)  # a subscriber that comes later gets the retained topics, flagged so
    assert wait_for(lambda: late.on("homeassistant/sensor/facecam/person_bob/config"))
    assert late.on("facecam/status") == [("offline", True)]
    for topic in ("facecam/ada_lovelace/last_seen", "facecam/front_door/in_view",
                  "homeassistant/sensor/facecam/person_ada_lovelace/config",
                  "homeassistant/sensor/facecam/source_front_door/config"):
        assert wait_for(lambda topic=topic: late.on(topic)) and all(retained for _, retained in late.on(topic)), topic
    assert late.on("facecam/front_door/event") == []  # events are not retained
    late.close()


def test_notify_named_sends_no_strangers_on_mqtt(broker):
    listener = Listener(broker.port, topics=["facecam/+/event"])
    hub = Hub()
    target = _target(hub, f"mqtt://127.0.0.1:{broker.port}", notify="named")
    hub.publish(SIGHTING, sighting("unknown", track=1))
    hub.publish(SIGHTING, sighting("Ada"))
    assert wait_for(lambda: listener.on("facecam/door/event"))
    target.close()
    listener.close()
    assert [e["name"] for e in listener.json("facecam/door/event")] == ["Ada"]


def test_a_broker_with_a_password_and_no_secret_in_the_logs(tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    broker = mosquitto_broker(tmp_path, login=("cam", "s3cret"))
    try:
        listener = Listener(broker.port, login=("cam", "s3cret"))
        hub = Hub()
        target = _target(hub, f"mqtt://cam:s3cret@127.0.0.1:{broker.port}")
        hub.publish(SIGHTING, sighting("Ada"))
        assert wait_for(lambda: listener.on("facecam/door/event"))
        target.close()
        wrong = _target(Hub(), f"mqtt://cam:wr0ng@127.0.0.1:{broker.port}")
        assert wait_for(lambda: "refused" in caplog.text)
        wrong.close()
        listener.close()
    finally:
        broker.stop()
    assert "cam:***@" in caplog.text
    everything = caplog.text + "".join(capsys.readouterr())
    assert "s3cret" not in everything and "wr0ng" not in everything


@pytest.mark.alone  # a broker stopped and started again, and the client's reconnection, within wait_for's time
def test_a_broker_that_stops_and_comes_back_gets_the_later_events(broker, caplog):
    hub = Hub()
    target = _target(hub, f"mqtt://127.0.0.1:{broker.port}")
    listener = Listener(broker.port, topics=["facecam/+/event"])
    hub.publish(SIGHTING, sighting("Ada", seconds=0))
    assert wait_for(lambda: listener.on("facecam/door/event"))
    listener.close()
    broker.stop()
    assert wait_for(lambda: "connection lost" in caplog.text)
    for i in range(1, 4):  # while it is down: they wait
        hub.publish(SIGHTING, sighting("Ada", seconds=100 * i))
    broker.start()
    listener = Listener(broker.port, topics=["facecam/+/event"])
    assert wait_for(lambda: "connected again" in caplog.text, 40.0)
    hub.publish(SIGHTING, sighting("Ada", seconds=500))
    assert wait_for(lambda: any(e["start"].startswith("2026-12-07T09:08:20") for e in listener.json("facecam/door/event")))
    target.close()
    listener.close()
    assert target.sent == 5  # the first, the three that waited, the later one


def test_a_stream_while_the_broker_is_down_drops_the_oldest_and_says_so_once(tmp_path, caplog):
    broker = mosquitto_broker(tmp_path)
    hub = Hub()
    target = _target(hub, f"mqtt://127.0.0.1:{broker.port}", maxsize=5)
    assert wait_for(lambda: target._connected.is_set())
    broker.stop()
    assert wait_for(lambda: not target._connected.is_set())
    for i in range(12):
        hub.publish(SIGHTING, sighting("Ada", seconds=100 * i))
    assert wait_for(lambda: target.drops.total == 7)
    broker.start()
    listener = Listener(broker.port, topics=["facecam/+/event"])
    assert wait_for(lambda: len(listener.on("facecam/door/event")) == 5, 40.0)
    target.close()
    listener.close()
    broker.stop()
    starts = [e["start"][11:19] for e in listener.json("facecam/door/event")]
    assert starts == ["09:11:40", "09:13:20", "09:15:00", "09:16:40", "09:18:20"]  # the newest five
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and "7 events dropped" in dropped[0] and f":{broker.port}" in dropped[0]


@pytest.mark.parametrize("name, topic", [("Ada Lovelace", "ada_lovelace"), ("a/b+c#d", "a_b_c_d"), ("+", "_"),
                                          ("rtsp://admin:***@cam/x", "rtsp_admin_cam_x")])
def test_names_become_safe_topic_levels(name, topic):
    assert slug(name) == topic


def test_start_outputs_runs_every_target_of_the_settings_and_close_stops_them(broker, caplog, capsys):
    import threading

    from facecore.config import load_config
    from outbound_helpers import Receiver
    from realtime.events.outbound import start_outputs

    receivers = [Receiver(), Receiver()]
    config = load_config(None, [f'events.webhooks=["{receivers[0].url(login="a:s3cret")}", "{receivers[1].url()}"]',
                                f'events.mqtt="mqtt://127.0.0.1:{broker.port}"', "events.notify=\"named\"",
                                'camera.sources=["door=0"]'])
    listener = Listener(broker.port)
    hub = Hub()
    before = threading.active_count()
    close = start_outputs(config, hub, ["Ada"])
    assert hub.subscribers() == 3
    hub.publish(SIGHTING, sighting("unknown", track=2))
    hub.publish(SIGHTING, sighting("Ada"))
    assert wait_for(lambda: all(r.posts for r in receivers) and listener.on("facecam/door/event"))
    assert wait_for(lambda: listener.on("homeassistant/sensor/facecam/source_door/config"))
    close()
    assert hub.subscribers() == 0 and wait_for(lambda: threading.active_count() <= before, 5.0)
    assert [[body["name"] for _, _, body in r.posts] for r in receivers] == [["Ada"], ["Ada"]]
    assert [e["name"] for e in listener.json("facecam/door/event")] == ["Ada"]
    listener.close()
    for receiver in receivers:
        receiver.close()
    assert "s3cret" not in caplog.text + "".join(capsys.readouterr())
