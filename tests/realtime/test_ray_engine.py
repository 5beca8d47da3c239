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

from helpers import REPO, VIDEOS, ctrl_c_heard, need, run_command, write_clip
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
@pytest.mark.alone  # the kill must land within the run (9 s of unpaced clip)
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
            if proc.poll() is not None:
                pytest.fail(f"face-live ended (exit {proc.returncode}) before obama was named: {proc.stderr.read()}")
            assert time.monotonic() < deadline, "obama was never named"
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
        f"no sign of a restart: the restarted actor plays its source again from the start; frames {frames}; {err}"


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
                            cwd=tmp_path, preexec_fn=ctrl_c_heard)
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


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
@pytest.mark.parametrize("address, why", [("127.0.0.1:9", "connection refused"),
                                          ("nohost.invalid:6379", "no host named 'nohost.invalid' was found")])
def test_an_unreachable_ray_address_is_one_line_at_once_exit_1(tmp_path, address, why):
    _ray()
    start = time.monotonic()
    done = run_command("realtime.cli", "--engine", "ray", "--headless", "--source", str(need(OBAMA)),
                       "--ray-address", address, timeout=120, cwd=tmp_path)
    assert time.monotonic() - start < 30
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"face-live: error: cannot reach the Ray cluster at {address}: "
                                                   f"{why}; check "), done.stderr


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
@pytest.mark.parametrize("address", ["garbage", "host:port", "10.0.0.5:99999", ":6379", "ray://"])
def test_a_ray_address_that_is_not_host_port_is_a_usage_error(tmp_path, address):
    _ray()
    done = run_command("realtime.cli", "--engine", "ray", "--headless", "--source", str(need(OBAMA)),
                       "--ray-address", address, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"face-live: error: ray address {address!r} is not HOST:PORT (such as "
                                   f"10.0.0.5:6379), auto, or ray://HOST:PORT")


def _descendants(root: int) -> dict[int, str]:
    """``{pid: command line}`` of every process under ``root`` (Ray renames its workers ``ray::...``)."""
    table = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            table[int(pid)] = (parent, open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, cmdline) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = cmdline
                todo.append(pid)
    return found


class _RayRun:
    """``face-live --engine ray`` on a paced clip, nobody enrolled (the replica loads no model),
    with ``--report``; ``started()`` waits for the camera actor's run to be under way."""

    def __init__(self, tmp_path, times: int, *args: str) -> None:
        clip = write_clip(need(OBAMA), tmp_path / f"obama-x{times}.mp4", times=times)
        self.report = tmp_path / "report.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime.cli", "--engine", "ray", "--headless", "--source", f"obama={clip}",
             "--log", str(tmp_path / "log.csv"), "--report", str(self.report), "--set", "camera.pace=true", *args],
            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
        self.seen: dict[int, str] = {}

    def __enter__(self) -> "_RayRun":
        return self

    def __exit__(self, *exc) -> None:
        self.proc.kill()

    def wait(self, timeout: float) -> tuple[str, float]:
        """stderr, once face-live has ended, and the seconds it took to end."""
        start = time.monotonic()
        _, err = self.proc.communicate(timeout=timeout)
        return err, time.monotonic() - start

    def started(self, timeout: float = 300) -> dict[int, str]:
        deadline = time.monotonic() + timeout
        # the camera's process is titled ray::...CameraWorker.run while its run starts, and plain
        # ray::CameraWorker once any other call on the actor (a progress probe) has ended
        while not any("CameraWorker.run" in c or c.strip() == "ray::CameraWorker" for c in self.seen.values()):
            if self.proc.poll() is not None:
                pytest.fail(f"face-live ended before its camera ran: {self.proc.stderr.read()}")
            assert time.monotonic() < deadline, "the camera never ran"
            time.sleep(0.5)
            self.seen.update(_descendants(self.proc.pid))
        time.sleep(3)  # a few seconds into the run
        self.seen.update(_descendants(self.proc.pid))
        return self.seen

    def kill(self, word: str) -> None:
        """SIGKILL the one process of this run whose command line holds ``word``."""
        found = [pid for pid, cmdline in self.seen.items() if word in cmdline]
        assert len(found) == 1, self.seen
        os.kill(found[0], signal.SIGKILL)

    def left(self) -> dict[int, str]:
        """The processes this run started that still run (zombies, which have no command line, aside)."""
        time.sleep(1)
        now = _descendants(1)
        return {pid: now[pid] for pid in self.seen if now.get(pid)}

    def ended_cleanly(self, err: str, ended: str) -> dict:
        """The report, once checked: the run ``ended`` so, said plainly, leaving nothing running."""
        import json

        _assert_plain(err)
        report = json.loads(self.report.read_text())
        assert report["ended"] == ended, report
        assert self.left() == {}, "processes of this run were left behind"
        return report


def _assert_plain(err: str) -> None:
    assert "\x1b[" not in err, err
    assert all(line.startswith("face-live: ") or line.startswith("  ") for line in err.splitlines()), err


@pytest.mark.slow
@pytest.mark.ray
def test_a_killed_raylet_ends_the_run_within_seconds_with_one_error_line_and_the_report(tmp_path):
    _ray()
    with _RayRun(tmp_path, 8) as run:
        run.started()
        run.kill("raylet/raylet")
        err, took = run.wait(120)
    assert run.proc.returncode == 1, err
    assert took < 60, f"{took:.0f} s to notice the lost raylet"
    errors = [line for line in err.splitlines() if line.startswith("face-live: error:")]
    assert len(errors) == 1 and "raylet" in errors[0], err
    assert "stopped: error" in err  # the summary
    assert "raylet" in run.ended_cleanly(err, "error")["error"]


@pytest.mark.slow
@pytest.mark.ray
def test_sigterm_stops_a_ray_run_as_a_local_one_summary_report_nothing_left(tmp_path):
    _ray()
    with _RayRun(tmp_path, 8) as run:
        run.started()
        run.proc.send_signal(signal.SIGTERM)
        err, _ = run.wait(120)
    assert run.proc.returncode == 0, err
    assert "SIGTERM: stopping" in err and "stopped: signal" in err and "SIGTERM received" not in err, err
    report = run.ended_cleanly(err, "signal")
    assert report["frames"] > 0 and report["error"] == ""


@pytest.mark.slow
@pytest.mark.ray
def test_a_crashed_camera_actor_is_one_plain_line_naming_it_and_it_restarts(tmp_path):
    _ray()
    with _RayRun(tmp_path, 2) as run:
        run.started()
        run.kill("CameraWorker")  # ray::CameraWorker.run (or .progress, while it answers one)
        err, _ = run.wait(400)
    assert run.proc.returncode == 0, err
    assert err.count("face-live: ray: camera obama crashed and was restarted (1 of at most 3 restarts)") == 1, err
    _assert_plain(err)  # none of Ray's own lines, no colour codes


def test_the_processes_a_run_started_are_ended_and_those_from_before_are_spared():
    """What ``face-live`` ends when a local Ray's shutdown cannot reach its processes: only what
    started under it after the run began (here: plain ``sleep`` processes, a shell and its child)."""
    from realtime.engine.ray_guard import RunProcesses

    before = subprocess.Popen(["sleep", "60"])
    try:
        processes = RunProcesses()
        after = subprocess.Popen(["bash", "-c", "sleep 60 & sleep 60; wait"])
        time.sleep(0.5)
        processes.note()
        assert before.pid not in processes.seen and after.pid in processes.seen and len(processes.seen) == 3
        assert processes.end(grace_s=2) == 3
        assert after.wait(5) == -signal.SIGTERM and processes.running() == []
        assert before.poll() is None
    finally:
        before.kill()


def test_ray_address_forms_auto_local_and_ray_client_are_read_and_checked():
    """A logic test of the address check alone (nothing listens on port 9 here)."""
    from facecore.errors import FacecamError, UsageError
    from realtime.engine.ray_guard import check_address

    check_address("")  # a local Ray
    check_address("auto")  # left to Ray: the cluster started on this machine
    with pytest.raises(FacecamError, match=r"^cannot reach the Ray cluster at ray://127\.0\.0\.1:9: connection refused"):
        check_address("ray://127.0.0.1:9")
    with pytest.raises(FacecamError, match=r"at \[::1\]:9: "):
        check_address("[::1]:9")
    for wrong in ("ray://nohost", "127.0.0.1", "127.0.0.1:0", "a b:6379", "http://x:6379"):
        with pytest.raises(UsageError, match="is not HOST:PORT"):
            check_address(wrong)


@pytest.mark.slow
@pytest.mark.ray
def test_a_ray_run_sends_its_rows_to_webhooks_and_to_a_consumer_of_its_hub(tmp_path, monkeypatch):
    """Nobody enrolled: each face's track is one ``unknown`` row. The rows the log actor writes reach
    the driver's hub: the webhook target POSTs each one, and a consumer given to ``live`` hears them,
    with the views of the source it watches carrying their pictures."""
    from outbound_helpers import Receiver
    from realtime.cli import live
    from realtime.events.hub import SIGHTING, VIEW

    _ray()
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the actors import facecam from here
    heard, stopped = [], []

    def consumer(hub):
        hub.watch("podium")
        subscription = hub.subscribe(maxsize=100_000)
        heard.append(subscription)
        return lambda: stopped.append(True)

    receiver = Receiver()
    try:
        report = live(["--engine", "ray", "--headless", "--source", f"podium={need(OBAMA)}", "--max-frames", "30",
                       "--log", str(tmp_path / "log.csv"), "--set", f'events.webhooks=["{receiver.url()}"]',
                       "--set", "events.cooldown_s=0"], consumers=[consumer])
    finally:
        receiver.close()
    assert report.error == "" and stopped == [True]
    rows = _rows(tmp_path / "log.csv")
    assert rows and {(r["name"], r["source"]) for r in rows} == {("unknown", "podium")}
    bodies = [body for _, _, body in receiver.posts]
    assert [(b["type"], b["source"], b["start"]) for b in bodies] == [("unknown", r["source"], r["time"])
                                                                     for r in rows]
    messages = list(heard[0])  # closed at the end of the run: every message, then the end
    assert [m.record["frame"] for m in messages if m.kind == SIGHTING] == [int(r["frame"]) for r in rows]
    views = [m.record for m in messages if m.kind == VIEW]
    assert views and all(v["source"] == "podium" and v["picture"].shape[2] == 3 for v in views)


@pytest.mark.parametrize("cpus, threads, expected", [(0.5, 0, 1), (2.0, 0, 2), (0.5, 3, 3)])
def test_a_camera_actors_litert_threads_follow_the_cpus_ray_gives_it_unless_set(monkeypatch, cpus, threads, expected):
    _ray()
    import facecore.runtime
    from facecore.config import load_config
    from realtime.engine import ray_parts

    seen = []
    monkeypatch.setattr(facecore.runtime, "runtime_detector", lambda config: seen.append(config.recognition.threads))
    ray_parts.build_detector(load_config(None, [f"ray.camera_cpus={cpus}", f"recognition.threads={threads}"]))
    assert seen == [expected]


def test_a_replica_takes_two_full_batches_of_requests_at_once_not_serves_default_of_five(monkeypatch):
    """Serve's default (5 requests at once per replica) would cap every batch at 5 cameras' steps."""
    _ray()
    from ray import serve

    from facecore.config import load_config
    from realtime.engine import ray_engine

    asked = {}

    class Deployment:
        def options(self, **options):
            asked.update(options)
            return self

        def bind(self, config):
            return config

    monkeypatch.setattr(serve, "start", lambda **kwargs: None)
    monkeypatch.setattr(serve, "deployment", lambda cls: Deployment())
    monkeypatch.setattr(serve, "run", lambda app, **kwargs: app)
    ray_engine._deploy(load_config(None, ["ray.max_batch_size=12"]))
    assert asked["max_ongoing_requests"] == 24
