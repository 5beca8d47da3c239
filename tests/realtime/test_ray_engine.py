"""``face-live --engine ray`` on a real Ray: a local one started by face-live, and a 2-node
``ray.cluster_utils.Cluster`` on this machine that face-live joins. Real clips, real models,
real processes (each run starts Ray, Serve, a recogniser replica and camera actors)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO, VIDEOS, need, run_command, write_clip
from live_helpers import facenet_sets
from facecore.csvlog import COLUMNS

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"
BIDEN = VIDEOS / "obama-biden" / "biden.mp4"


def _ray():
    return pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")


def _rows(path) -> list[dict]:
    """The CSV's rows; every line must be whole (as many cells as columns, the file ends a line)."""
    data = path.read_bytes() if path.exists() else b""
    assert not data or data.endswith(b"\n"), "the CSV ends with a cut-off line"
    rows = list(csv.reader(data.decode().splitlines()))
    assert not rows or rows[0] == list(COLUMNS)
    assert all(len(r) == len(COLUMNS) for r in rows), "a row is not whole"
    return [dict(zip(COLUMNS, r)) for r in rows[1:]]


def _by_source(rows: list[dict]) -> dict[str, set]:
    out: dict[str, set] = {}
    for row in rows:
        out.setdefault(row["source"], set()).add(row["name"])
    return out


def _ray_processes() -> set[int]:
    """Pids of Ray's processes on this machine (its servers and workers)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")
        except OSError:
            continue
        if any(word in cmdline for word in (b"raylet", b"gcs_server", b"ray::", b"ray/_private/")):
            found.add(int(pid))
    return found


def test_engine_ray_without_ray_installed_is_one_line_exit_2(tmp_path):
    shim = tmp_path / "shim" / "ray"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    done = run_command("realtime.cli", "--engine", "ray", "--headless", "--source", str(need(OBAMA)),
                       env={"PYTHONPATH": f"{tmp_path / 'shim'}:{REPO}"}, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("face-live: error: --engine ray needs Ray: pip install -e '.[ray]' "
                                   "(or pip install 'ray[serve]')")


@pytest.fixture
def cluster(monkeypatch):
    """A Ray cluster of 2 nodes on this machine (2 logical CPUs each); this test process is
    connected to it (to look at and kill its actors)."""
    ray = _ray()
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the nodes' workers import facecam from here
    monkeypatch.setenv("RAY_BACKEND_LOG_LEVEL", "fatal")
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    nodes.add_node(num_cpus=2)
    ray.init(address=nodes.address, namespace="facecam", logging_level="ERROR", log_to_driver=False)
    try:
        yield nodes
    finally:
        ray.shutdown()
        nodes.shutdown()


def _face_live(tmp_path, bundle, *args: str) -> list[str]:
    return [sys.executable, "-m", "realtime.cli", "--engine", "ray", "--headless", "--model", str(bundle),
            "--log", str(tmp_path / "log.csv"), *facenet_sets(), *args]


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize("where", ["local", "cluster"])
def test_two_named_sources_give_the_local_engines_names(tmp_path, enrolled_bundle, facenet_models, where,
                                                        request):
    """obama.mp4 and biden.mp4 as two named sources: each named only on its own source, as the
    local engine (run here too) names them."""
    from realtime.cli import live

    _ray()
    sources = ["--source", f"obama={need(OBAMA)}", "--source", f"biden={need(BIDEN)}"]
    local_log = tmp_path / "local.csv"
    live([*sources, "--headless", "--model", str(enrolled_bundle), "--log", str(local_log), *facenet_sets()],
         models=facenet_models)
    address = []
    if where == "cluster":
        address = ["--ray-address", request.getfixturevalue("cluster").address]
    done = subprocess.run(_face_live(tmp_path, enrolled_bundle, *sources, *address), capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert all(line.startswith("face-live: ") or line.startswith("  ") for line in done.stderr.splitlines()), \
        done.stderr  # facecam's own lines only: none of Ray's
    on_ray, locally = _by_source(_rows(tmp_path / "log.csv")), _by_source(_rows(local_log))
    assert on_ray == locally and "obama" in on_ray["obama"] and "biden" in on_ray["biden"], (on_ray, locally)


@pytest.mark.slow
@pytest.mark.ray
def test_a_camera_actor_killed_mid_run_restarts_and_the_csv_stays_whole(tmp_path, enrolled_bundle, cluster):
    import ray

    clip = write_clip(need(OBAMA), tmp_path / "obama-x3.mp4", times=3)
    log = tmp_path / "log.csv"
    proc = subprocess.Popen(_face_live(tmp_path, enrolled_bundle, "--source", f"obama={clip}",
                                       "--ray-address", cluster.address, "--set", "log.cooldown_s=0"),
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while not any(r["name"] == "obama" for r in _rows(log)):
            assert proc.poll() is None and time.monotonic() < deadline, "obama was never named"
            time.sleep(0.3)
        before = len(_rows(log))
        ray.kill(ray.get_actor("facecam-camera-obama", namespace="facecam"), no_restart=False)
        _, err = proc.communicate(timeout=400)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    rows = _rows(log)  # every row whole
    frames = [int(r["frame"]) for r in rows if r["name"] == "obama"]
    assert len(rows) > before and any(b < a for a, b in zip(frames, frames[1:])), \
        "no sign of a restart: the restarted actor plays its source again from the start"


@pytest.mark.slow
@pytest.mark.ray
def test_sigint_stops_everything_closes_the_csv_whole_and_leaves_no_ray_process(tmp_path, enrolled_bundle):
    _ray()
    clip = write_clip(need(OBAMA), tmp_path / "obama-x8.mp4", times=8)
    log = tmp_path / "log.csv"
    before = _ray_processes()
    proc = subprocess.Popen(_face_live(tmp_path, enrolled_bundle, "--source", f"obama={clip}",
                                       "--set", "camera.pace=true", "--set", "log.cooldown_s=0"),
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while not _rows(log):
            assert proc.poll() is None and time.monotonic() < deadline, "nothing was logged"
            time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "SIGINT: stopping" in err and "stopped: signal" in err
    assert _rows(log)
    time.sleep(3)
    assert _ray_processes() - before == set(), "Ray processes were left behind"
