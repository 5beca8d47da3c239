"""A stream URL's password never leaves memory: face-live shows and stores the URL masked
(``http://admin:***@host/...``) in its messages, the CSV's ``source`` column, the kept faces'
records and the ``--report`` file; the real URL is only opened.

Real processes. The working stream is a real clip served by a local HTTP server
(tests/http_clips.py), which ignores the user, password and token given in the URL.
"""

from __future__ import annotations

import csv
import socket

import pytest

from facecore.urls import mask_url
from helpers import VIDEOS, need, run_command
from http_clips import serve_folder

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
SECRETS = ("s3cret", "t0ken")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leaks(tmp_path, stderr: str) -> list[str]:
    """Every file written under ``tmp_path``, and stderr, that holds a secret."""
    found = [str(p) for p in tmp_path.rglob("*") if p.is_file() and any(s.encode() in p.read_bytes() for s in SECRETS)]
    return found + (["stderr"] if any(s in stderr for s in SECRETS) else [])


def _args(tmp_path, source: str) -> list[str]:
    return ["--source", source, "--headless", "--log", str(tmp_path / "out" / "rec.csv"),
            "--report", str(tmp_path / "out" / "report.json"), "--faces", str(tmp_path / "out" / "faces"),
            "--set", f"train.model={tmp_path / 'none'}"]


@pytest.mark.parametrize("source", [
    "http://admin:s3cret@127.0.0.1:{port}/cam.mjpg?token=t0ken",
    "door=rtsp://admin:s3cret@127.0.0.1:{port}/stream",
    "door cam=rtsp://admin:s3cret@127.0.0.1:{port}/stream",
])
def test_a_stream_that_cannot_be_opened_is_named_with_its_password_masked(tmp_path, source):
    source = source.format(port=_free_port())
    result = run_command("realtime.cli", *_args(tmp_path, source), timeout=60, cwd=tmp_path)
    assert result.returncode in (1, 2) and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert mask_url(source.partition("=")[2] if source.startswith("door") else source) in result.stderr
    assert _leaks(tmp_path, result.stderr + result.stdout) == []


@pytest.mark.slow
def test_a_clip_over_http_with_a_password_is_logged_kept_and_reported_masked(tmp_path):
    """The real command on a real clip served over HTTP, its URL carrying a password and a token:
    it plays to the end (the end of a served file is not a drop), logs and keeps the face, writes
    its report, and no file nor message holds either secret; the source is named by its masked URL."""
    with serve_folder(need(OBAMA).parent) as address:
        url = f"http://admin:s3cret@{address}/{OBAMA.name}?token=t0ken"
        result = run_command("realtime.cli", *_args(tmp_path, url), timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "stopped: end" in result.stderr and "reconnect" not in result.stderr, result.stderr
    with open(tmp_path / "out" / "rec.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["source"] for r in rows} == {f"http://admin:***@{address}/{OBAMA.name}?token=***"}
    assert list((tmp_path / "out" / "faces").rglob("*.json")), "no face was kept"
    assert (tmp_path / "out" / "report.json").is_file()
    assert _leaks(tmp_path, result.stderr + result.stdout) == []


@pytest.mark.parametrize("sources", ['"rtsp://admin:s3cret@cam/stream?token=t0ken"',
                                     '["rtsp://admin:s3cret@cam/stream?token=t0ken", ""]'])
def test_a_config_error_about_the_sources_shows_their_urls_masked(tmp_path, sources):
    config = tmp_path / "cams.toml"
    config.write_text(f"[camera]\nsources = {sources}\n")
    result = run_command("realtime.cli", "--config", str(config), "--headless", timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "camera.sources must be a" in result.stderr, result.stderr
    assert "rtsp://admin:***@cam/stream?token=***" in result.stderr and _leaks(tmp_path / "none", result.stderr) == []
