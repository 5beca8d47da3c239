"""face-web on the command line: the bind rule, tokens, the password hash, serving until stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from helpers import REPO, ctrl_c_heard


def _face_web(*args: str, cwd, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=cwd, capture_output=True, text=True,
                          input=stdin, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=timeout)


def test_binding_beyond_loopback_without_a_password_is_one_line_and_exit_2(tmp_path):
    run = _face_web("0.0.0.0:8080", "--workspace", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "password" in run.stderr, run.stderr
    bad = _face_web("localhost:http", cwd=tmp_path)
    assert bad.returncode == 2 and "[HOST:]PORT" in bad.stderr


def test_new_token_prints_a_token_once_and_keeps_only_its_hash_owner_only(tmp_path):
    run = _face_web("--new-token", "door", "--workspace", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    token = run.stdout.strip()
    stored = tmp_path / "data" / "web" / "tokens.json"
    assert token.startswith("fc_") and token not in stored.read_text()
    assert json.loads(stored.read_text())["tokens"][0]["label"] == "door"
    assert stored.stat().st_mode & 0o077 == 0


def test_hash_password_prints_a_config_line_that_logs_in(tmp_path):
    from facecore.config import load_config
    from web.security import Security

    run = _face_web("--hash-password", cwd=tmp_path, stdin="a long enough password\n")
    assert run.returncode == 0, run.stderr
    config = tmp_path / "web.toml"
    config.write_text("[web]\n" + run.stdout)
    security = Security(load_config(config).web)
    assert security.password_ok("a long enough password") and not security.password_ok("a long enough passwor")
    short = _face_web("--hash-password", cwd=tmp_path, stdin="short\n")
    assert short.returncode == 2 and "8 characters" in short.stderr


def test_face_web_serves_until_ctrl_c_and_then_ends_cleanly(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "web.cli", "0", "--workspace", str(tmp_path)], cwd=tmp_path,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                               preexec_fn=ctrl_c_heard)
    try:
        line = process.stderr.readline()
        assert "serving http://127.0.0.1:" in line, line
        url = line.split("serving ")[1].split()[0]
        with urllib.request.urlopen(url + "api/people", timeout=30) as response:
            assert json.loads(response.read()) == {"people": []}
        with urllib.request.urlopen(url, timeout=30) as response:
            assert "face-live --web" in response.read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130  # Ctrl-C, as every command reports it (facecore.app.EXIT_INTERRUPTED)
    assert "Traceback" not in process.stderr.read()
