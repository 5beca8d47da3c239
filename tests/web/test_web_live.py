"""The Live page's feed, in process: one JPEG per update whatever the number of viewers, the
newest only for a slow viewer, sources watched on the hub only while someone views them, and
the one WebSocket carrying every tile."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from helpers import REPO


def _view(source: str, frame: int, picture: bool = True) -> dict:
    record = {"source": source, "frame": frame, "time_s": frame / 10, "boxes": [[10.0, 20.0, 50.0, 60.0]],
              "names": ["ada"], "confidences": [0.9], "tracks": [1], "stale": [False]}
    if picture:
        record["picture"] = np.full((48, 64, 3), frame % 256, np.uint8)
    return record


def _run(scenario) -> None:
    """``asyncio.run(scenario())`` on a thread of its own (the browser tests' Playwright keeps an event
    loop in the main thread)."""
    failure = []

    def run():
        try:
            asyncio.run(scenario())
        except BaseException as exc:  # handed to the test
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the scenario did not finish"
    if failure:
        raise failure[0]


def _wait(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_source_is_watched_only_while_a_viewer_shows_it_and_each_update_is_encoded_once():
    from realtime.events.hub import VIEW, Hub
    from web.feed import LiveFeed, Viewer, read_packet

    async def scenario():
        hub = Hub()
        feed = LiveFeed(hub, fps=1000)
        loop = asyncio.get_running_loop()
        a, b = Viewer(loop, ["door"]), Viewer(loop, ["door", "yard"])
        assert hub.watching() == frozenset()
        feed.join(a)
        feed.join(b)
        assert hub.watching() == {"door", "yard"}
        for frame in range(3):
            hub.publish(VIEW, _view("door", frame))
            got_a, got_b = await asyncio.wait_for(a.next(), 5), await asyncio.wait_for(b.next(), 5)
            assert got_a == got_b  # the same bytes: encoded once for both
            header, jpeg = read_packet(got_a[0])
            assert header["frame"] == frame and header["names"] == ["ada"] and jpeg[:2] == b"\xff\xd8"
            assert (header["width"], header["height"]) == (64, 48)
        assert feed.encoded == 3
        feed.leave(b)
        assert hub.watching() == {"door"}
        feed.leave(a)
        assert hub.watching() == frozenset()
        feed.close()

    _run(scenario)


def test_a_slow_viewer_gets_only_the_newest_view_of_each_source():
    from realtime.events.hub import VIEW, Hub
    from web.feed import LiveFeed, Viewer, read_packet

    async def scenario():
        hub = Hub()
        feed = LiveFeed(hub, fps=1000)
        viewer = Viewer(asyncio.get_running_loop(), ["door", "yard"])
        feed.join(viewer)
        for frame in range(20):
            hub.publish(VIEW, _view("door", frame))
        hub.publish(VIEW, _view("yard", 7))
        await asyncio.to_thread(_wait, lambda: feed._latest.get("yard") is not None)
        await asyncio.to_thread(_wait, lambda: read_packet(feed._latest["door"])[0]["frame"] == 19)
        packets = await asyncio.wait_for(viewer.next(), 5)
        frames = {read_packet(p)[0]["source"]: read_packet(p)[0]["frame"] for p in packets}
        assert frames == {"door": 19, "yard": 7}
        feed.leave(viewer)
        feed.close()

    _run(scenario)


def test_a_large_picture_is_shrunk_before_it_is_encoded_and_the_boxes_stay_in_frame_pixels():
    import cv2

    from web.feed import packet, read_packet

    view = {**_view("door", 1, picture=False), "picture": np.zeros((720, 1280, 3), np.uint8)}
    header, jpeg = read_packet(packet(view, 80, max_side=640)[0])
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (360, 640) and (header["width"], header["height"]) == (1280, 720)
    assert header["boxes"] == [[10.0, 20.0, 50.0, 60.0]]


def test_at_most_live_fps_pictures_a_second_are_encoded_per_source():
    from realtime.events.hub import VIEW, Hub
    from web.feed import LiveFeed, Viewer

    async def scenario():
        hub = Hub()
        feed = LiveFeed(hub, fps=5)
        feed.join(Viewer(asyncio.get_running_loop(), ["door", "yard"]))
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            for source in ("door", "yard"):
                hub.publish(VIEW, _view(source, 1))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert 4 <= feed.encoded <= 2 * 6  # 5 a second per source, not the ~100 published
        feed.close()

    _run(scenario)


def test_the_live_websocket_carries_every_tile_and_unwatches_when_the_page_goes(make_app):
    from realtime.events.hub import VIEW, Hub
    from web.feed import read_packet

    hub = Hub()
    client, _ = make_app(hub=hub, sources=["door", "yard"])
    page = client.get("/").text
    assert 'data-source="door"' in page and 'data-source="yard"' in page
    stop = threading.Event()

    def camera():
        frame = 0
        while not stop.is_set():
            for source in ("door", "yard"):
                hub.publish(VIEW, _view(source, frame, picture=hub.watched(source)))
            frame += 1
            time.sleep(0.02)

    threading.Thread(target=camera, daemon=True).start()
    try:
        with client.websocket_connect("ws://127.0.0.1/live/ws") as socket:
            seen = {}
            while len(seen) < 2 or not all(seen.values()):
                header, jpeg = read_packet(socket.receive_bytes())
                seen[header["source"]] = seen.get(header["source"]) or bool(jpeg)
            assert hub.watching() == {"door", "yard"}
        _wait(lambda: hub.watching() == frozenset())
    finally:
        stop.set()


def test_without_a_hub_the_live_page_says_so_and_its_websocket_closes(make_app):
    client, _ = make_app()
    assert "face-live --web" in client.get("/").text
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("ws://127.0.0.1/live/ws") as socket:
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_bytes()
    assert closed.value.code == 1000 and "face-web" in closed.value.reason


def test_with_a_password_the_live_websocket_is_refused_without_a_login(make_app):
    from realtime.events.hub import Hub

    from web_helpers import PASSWORD

    from starlette.websockets import WebSocketDisconnect

    client, _ = make_app(f"web.password={PASSWORD}", hub=Hub(), sources=["door"])
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("ws://127.0.0.1/live/ws") as socket:
            socket.receive_bytes()
    assert refused.value.code == 1008 and "login" in refused.value.reason


def test_face_live_without_web_never_imports_the_web_package():
    code = "import sys, realtime.cli; sys.exit(1 if any(m == 'web' or m.startswith('web.') for m in sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


@pytest.mark.parametrize("extra, words", [
    (["--web", "0.0.0.0:8080"], "password"),
    (["--web", "nonsense:port"], "[HOST:]PORT"),
    (["--web", "0.0.0.0:8080", "--engine", "ray"], "password"),  # checked before anything of Ray
])
def test_face_live_refuses_a_bad_web_address_in_one_line_with_exit_2(tmp_path, extra, words):
    run = subprocess.run([sys.executable, "-m", "realtime.cli", "--source", str(tmp_path), "--headless", *extra],
                         cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": ""},
                         timeout=120)
    assert run.returncode == 2, run.stderr
    assert words in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_websocket_opened_by_another_site_is_refused(make_app):
    from realtime.events.hub import Hub
    from starlette.websockets import WebSocketDisconnect

    client, _ = make_app(hub=Hub(), sources=["door"])
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("ws://127.0.0.1/live/ws", headers={"Origin": "http://evil.example"}) as socket:
            socket.receive_bytes()
    assert refused.value.code == 1008
    with client.websocket_connect("ws://127.0.0.1/live/ws", headers={"Origin": "http://127.0.0.1"}):
        pass


def test_without_a_password_a_local_program_hears_the_sightings_as_they_are_logged(make_app):
    from realtime.events.hub import SIGHTING, Hub

    hub = Hub()
    client, _ = make_app(hub=hub, sources=["door"])
    with client.websocket_connect("ws://127.0.0.1/api/sightings") as socket:
        _wait(lambda: hub.subscribers() > 0)
        hub.publish(SIGHTING, {"time": "2026-12-07T09:00:00+00:00", "name": "ada", "source": "door",
                               "snapshot": "data/faces/20261207T090000000-0123abcd.jpg", "event": 7})
        heard = socket.receive_json()
    assert heard["name"] == "ada" and heard["event"] == 7
    assert heard["face_url"] == "/faces/20261207T090000000-0123abcd.jpg"
