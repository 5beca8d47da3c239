"""The Live page in a real browser over a real run: face-live --web on a looped Biden clip
with Biden enrolled (real MTCNN and facenet); the tile's picture changes and its caption says
"biden", as text."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

import pytest

from helpers import FACENET_H5, VIDEOS, need, write_clip

BIDEN = VIDEOS / "obama-biden" / "biden.mp4"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer in {timeout} s"
        time.sleep(0.2)


@pytest.mark.slow
def test_live_page_shows_the_tile_changing_and_the_caption_biden(tmp_path, biden_bundle, facenet_models, page):
    from realtime.cli import live

    clip = write_clip(need(BIDEN), tmp_path / "biden_loop.mp4", frames=60, times=40)
    port, stop, ended = _free_port(), threading.Event(), []
    argv = ["--source", f"podium={clip}", "--headless", "--model", str(biden_bundle), "--workspace", str(tmp_path),
            "--web", f"127.0.0.1:{port}", "--set", "camera.pace=true", "--set", "backbone.name=facenet",
            "--set", f"backbone.weights={FACENET_H5}"]
    run = threading.Thread(target=lambda: ended.append(live(argv, models=facenet_models, stop=stop)), daemon=True)
    run.start()
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, 120)
        page.goto(url)
        tile = page.locator('.tile[data-source="podium"]')
        page.wait_for_function("() => document.querySelector('.tile[data-source=podium]').dataset.frame !== ''",
                               timeout=120_000)
        first_frame, first_picture = tile.get_attribute("data-frame"), tile.locator("img").get_attribute("src")
        page.wait_for_function(
            "f => { const t = document.querySelector('.tile[data-source=podium]');"
            " return t.dataset.frame !== f && t.querySelector('img').naturalWidth > 0; }",
            arg=first_frame, timeout=60_000)
        assert tile.locator("img").get_attribute("src") != first_picture
        page.wait_for_function("() => document.querySelector('.tile[data-source=podium] .names')"
                               ".textContent.split(', ').includes('biden')", timeout=120_000)
        assert "biden" in tile.locator(".caption").inner_text()
    finally:
        stop.set()
        run.join(120)
    assert not run.is_alive() and ended and not ended[0].error
