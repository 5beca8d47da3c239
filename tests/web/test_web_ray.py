"""face-live --web under --engine ray: the camera actors' views reach the driver's hub, and the
Live page's socket gets the camera's pictures (a real local Ray, the real models)."""

from __future__ import annotations

import threading
import time

import pytest

from helpers import REPO, VIDEOS, need, write_clip

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"


@pytest.mark.slow
@pytest.mark.ray
def test_a_ray_run_with_web_sends_the_live_page_its_cameras_pictures(tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    from websockets.sync.client import connect

    import realtime.cli as cli
    from web.feed import read_packet

    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the actors import facecam from here
    said: list[str] = []
    monkeypatch.setattr(cli, "_say", said.append)
    clip = write_clip(need(OBAMA), tmp_path / "podium.mp4", frames=60, times=20)  # long enough to connect
    stop, seen, problems = threading.Event(), {}, []

    def view_the_live_page():
        try:
            deadline = time.monotonic() + 600
            while not any(t.startswith("web app: ") for t in said):
                assert time.monotonic() < deadline and not stop.is_set(), "the web app never said where it is"
                time.sleep(0.1)
            url = next(t for t in said if t.startswith("web app: ")).split(": ", 1)[1].rstrip("/")
            with connect(url.replace("http", "ws", 1) + "/live/ws", open_timeout=30) as socket:
                while "jpeg" not in seen:
                    header, jpeg = read_packet(socket.recv(timeout=120))
                    if header["source"] == "podium" and jpeg:
                        seen.update(header=header, jpeg=jpeg)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            problems.append(repr(exc))
        finally:
            stop.set()

    viewer = threading.Thread(target=view_the_live_page, daemon=True)
    viewer.start()
    report = cli.live(["--engine", "ray", "--headless", "--source", f"podium={clip}", "--web", "127.0.0.1:0",
                       "--log", str(tmp_path / "log.csv"), "--faces", str(tmp_path / "faces")], stop=stop)
    viewer.join(30)
    assert not problems, problems
    assert report.error == "" and seen["jpeg"][:2] == b"\xff\xd8"  # a JPEG picture of the camera
    assert seen["header"]["width"] > 0 and seen["header"]["picture"]
