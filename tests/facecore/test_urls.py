"""mask_url: the one rule for a URL that is shown or stored (stream sources, settings' URLs)."""

from __future__ import annotations

import pytest

from facecore.urls import has_credentials, mask_url, url_problem


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


HTTP, MQTT = ("http", "https"), ("mqtt", "mqtts")


@pytest.mark.parametrize("url, schemes", [("https://hooks:s3cret@example.org:8443/a?token=x", HTTP),
                                          ("http://[::1]/hook", HTTP), ("mqtt://ha:s3cret@broker", MQTT),
                                          ("MQTTS://broker.local:8883", MQTT)])
def test_a_good_service_url_has_no_problem(url, schemes):
    assert url_problem(url, schemes) == ""


@pytest.mark.parametrize("url, schemes, problem", [
    ("ftp://u:s3cret@example.org/x", HTTP, "'ftp://u:***@example.org/x' must start with http:// or https://"),
    ("https://u:s3cret@/x", HTTP, "'https://u:***@/x' has no host"),
    ("mqtt://u:s3cret@broker:99999", MQTT, "'mqtt://u:***@broker:99999' has a bad port (expected a number 1..65535)"),
    ("mqtt://broker:0", MQTT, "'mqtt://broker:0' has a bad port (expected a number 1..65535)"),
    ("mqtt://broker:abc", MQTT, "'mqtt://broker:abc' has a bad port (expected a number 1..65535)"),
    ("broker:1883", MQTT, "'broker:1883' must start with mqtt:// or mqtts://"),
])
def test_a_bad_service_url_is_named_masked_with_what_is_wrong(url, schemes, problem):
    assert url_problem(url, schemes) == problem and "s3cret" not in problem
