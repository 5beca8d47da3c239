"""face-live's events-out settings at start: a bad URL or a missing paho-mqtt is one line on
stderr, exit 2, naming the key, with the URL's credentials masked; and the settings' checks."""

from __future__ import annotations

import sys

import pytest

from facecore.config import load_config
from facecore.errors import ConfigError
from helpers import run_command


@pytest.mark.parametrize("key, value, expected", [
    ("events.webhooks", '["ftp://hooks:s3cret@example.org/x"]', "events.webhooks: 'ftp://hooks:***@example.org/x' "
                                                                "must start with http:// or https://"),
    ("events.webhooks", '["https://example.org/ok", "http://hooks:s3cret@/x"]', "has no host"),
    ("events.mqtt", '"mqtt://ha:s3cret@broker:99999"', "events.mqtt: 'mqtt://ha:***@broker:99999' has a bad port"),
    ("events.mqtt", '"http://ha:s3cret@broker:1883"', "must start with mqtt:// or mqtts://"),
])
def test_a_bad_url_stops_face_live_in_one_line_naming_the_key_with_the_password_masked(key, value, expected):
    done = run_command("realtime.cli", "--source", "0", "--headless", "--set", f"{key}={value}", timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert key in lines[0] and expected in lines[0] and "s3cret" not in done.stderr + done.stdout


@pytest.mark.parametrize("override, message", [("events.notify=\"some\"", "must be one of all, named, unknown"),
                                               ("events.cooldown_s=-1", "must be >= 0.0"),
                                               ("events.webhooks=\"http://x\"", "must be a list")])
def test_events_settings_are_typed_and_checked(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_good_urls_are_accepted():
    config = load_config(None, ['events.webhooks=["https://u:p@hooks.example:8443/a?token=x", "http://[::1]/h"]',
                                'events.mqtt="mqtts://broker.local"', 'events.notify="unknown"'])
    assert config.events.mqtt == "mqtts://broker.local" and len(config.events.webhooks) == 2


def test_mqtt_without_paho_is_one_line_with_the_install_command(tmp_path, monkeypatch, capsys):
    from realtime import cli

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"")
    for name in ("paho", "paho.mqtt", "paho.mqtt.client"):
        monkeypatch.setitem(sys.modules, name, None)  # import paho.mqtt.client -> ImportError
    code = cli.main(["--source", str(folder), "--headless", "--log", str(tmp_path / "log.csv"),
                     "--set", 'events.mqtt="mqtt://ha:s3cret@127.0.0.1:1883"'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == "face-live: error: events.mqtt needs the paho-mqtt package: pip install -e '.[mqtt]'"
    assert "s3cret" not in "\n".join(err)
