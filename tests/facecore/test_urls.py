"""mask_url: the one rule for a URL that is shown or stored (stream sources, settings' URLs)."""

from __future__ import annotations

import pytest

from facecore.urls import has_credentials, mask_url


@pytest.mark.parametrize("url, shown", [
    ("http://admin:s3cret@cam.local/video.mjpg", "http://admin:***@cam.local/video.mjpg"),
    ("rtsp://admin:s3cret@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
    ("rtmp://user:s3cret@live.example/app/key", "rtmp://user:***@live.example/app/key"),
    ("mqtt://homeassistant:s3cret@broker:1883", "mqtt://homeassistant:***@broker:1883"),
    ("https://hooks:s3cret@example.org/hook", "https://hooks:***@example.org/hook"),
    ("rtsp://admin:p@ss:w0rd@cam/stream", "rtsp://admin:***@cam/stream"),  # an "@" inside the password
    ("https://s3cret@example.org/hook", "https://***@example.org/hook"),  # a user alone: often a token
    ("http://cam/video.cgi?user=admin&password=s3cret&pass=s3cret&pwd=s3cret",
     "http://cam/video.cgi?user=admin&password=***&pass=***&pwd=***"),
    ("https://example.org/hook?Token=s3cret&channel=door#part", "https://example.org/hook?Token=***&channel=door#part"),
    ("rtsp://cam/stream?api_key=s3cret;x=1", "rtsp://cam/stream?api_key=***;x=1"),
])
def test_credentials_are_masked_and_the_rest_kept(url, shown):
    assert mask_url(url) == shown and "s3cret" not in shown and has_credentials(url)


@pytest.mark.parametrize("text", ["rtsp://cam.local/stream", "http://cam/a?user=admin&channel=2", "clip.mp4",
                                  "photos/a=b", "0", "door=clip.mp4", "http://cam/?password="])
def test_text_without_credentials_is_unchanged(text):
    assert mask_url(text) == text and not has_credentials(text)


def test_a_camera_index_is_shown_as_text():
    assert mask_url(0) == "0"
