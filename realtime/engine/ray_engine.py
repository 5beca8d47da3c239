"""``face-live --engine ray``: the same stages, spread over a Ray cluster (Ray Core actors and
Ray Serve), for cameras that outgrow one machine.

1. join the cluster at ``ray.address`` (``--ray-address``), or start a local Ray on this
   machine (no dashboard; logical CPUs enough for the actors asked for);
2. start Serve without any HTTP proxy and deploy the recogniser (``ray.replicas``
   replicas, ``ray.replica_cpus`` CPUs and ``ray.num_gpus`` GPUs each);
3. start the one CSV writer on this machine, then one camera actor per source
   (``max_restarts`` after a crash; a restarted actor opens its source again);
4. wait for the cameras to end, or for SIGINT/SIGTERM (they are asked to stop, each
   ends its step), watching Ray meanwhile (``realtime.engine.ray_watch``: a lost node or actor
   ends the run within seconds), then close the CSV log, and stop everything started
   here: the deployment and the actors, and the local Ray itself (with any of its
   processes that its shutdown cannot reach). Every wait on Ray has a limit.

Sources are opened where their camera actor runs: on a cluster, use stream URLs or
cameras of that machine. Annotated videos (``--output DIR``) are written there too.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

from facecore.app import native_stderr_silenced
from facecore.camera import SourceSpec
from facecore.config import Config
from facecore.errors import FacecamError, UsageError

from ..events.ray_hub import HubRelay
from .core import fill_sources
from .ray_guard import NodeWatch, RunProcesses, bounded, plain, ray_messages_to_debug
from .ray_watch import RunWatch, why_failed
from .stats import RunReport

__all__ = ["run_ray", "require_ray", "ongoing_requests", "APP_NAME", "NAMESPACE"]

log = logging.getLogger(__name__)
APP_NAME, NAMESPACE = "facecam", "facecam"
_ANSWER_S = 30.0  # closing the log, the figures, leaving a cluster, shutting down: at most this long each
_JOIN_S = 25.0  # joining a cluster that takes longer fails (its address was checked before)
_STOP_S = 30.0  # cameras asked to stop have this long to end their step


def require_ray() -> None:
    """``UsageError`` (exit 2) with the way to install Ray when it is missing."""
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install -e '.[ray]' (or pip install 'ray[serve]')") from None


def _start_ray(config: Config, cameras: int) -> bool:
    """Join ``ray.address`` (within :data:`_JOIN_S` seconds) or start a local Ray; True when
    this process started it. The SIGINT/SIGTERM handlers in place before are put back after
    (Ray's would turn SIGTERM into a crash report)."""
    import ray

    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # Ray's own lines stay off stderr unless --debug
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        for name in ("ray", "ray.serve"):
            logging.getLogger(name).setLevel(logging.ERROR)
    ray_messages_to_debug()
    quiet = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False,
             "namespace": NAMESPACE}
    r = config.ray
    if not r.address:
        needed = r.replicas * r.replica_cpus + cameras * r.camera_cpus + 0.5  # + the writer
        quiet["num_cpus"] = max(os.cpu_count() or 1, int(needed + 0.999))
    main = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        with native_stderr_silenced():  # Ray's core prints a line at start, whatever its log level
            if r.address:
                bounded(lambda: ray.init(address=r.address, **quiet), _JOIN_S)
            else:
                ray.init(**quiet)
    except TimeoutError:
        raise FacecamError(f"the Ray cluster at {r.address} did not answer within {_JOIN_S:.0f} s; check "
                           f"that it runs and that this address is its head's (ray status)") from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise FacecamError(f"cannot join the Ray cluster at {r.address or 'this machine'}: {plain(exc)}") from None
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
    return not r.address


def _deploy(config: Config, replica=None):
    from ray import serve

    from .ray_parts import RecognizerReplica

    serve.start(proxy_location="Disabled", logging_config={"log_level": "ERROR"})
    r = config.ray
    # Serve lets a replica hold 5 requests at once by default: a batch could never pass 5 cameras' steps,
    # and the other cameras' requests would wait in their handles, retried with back-off
    deployment = serve.deployment(replica or RecognizerReplica).options(
        name="recognizer", num_replicas=r.replicas, max_ongoing_requests=ongoing_requests(config),
        ray_actor_options={"num_cpus": r.replica_cpus, "num_gpus": r.num_gpus})
    return serve.run(deployment.bind(config), name=APP_NAME, route_prefix=None)


def ongoing_requests(config: Config) -> int:
    """How many requests a replica takes at once: two full batches (one being run, the next one
    filling), so that batches reach ``ray.max_batch_size``."""
    return 2 * config.ray.max_batch_size


def _actors(config: Config, specs: list[SourceSpec], videos: dict, handle, keep, detector=None):
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from ..events.ray_hub import LogWriter
    from .ray_parts import CameraWorker

    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    writer = ray.remote(LogWriter).options(name="facecam-log", num_cpus=0, scheduling_strategy=here,
                                           max_restarts=config.ray.max_restarts).remote(config, keep)
    remote = ray.remote(CameraWorker)
    cameras = {}
    for spec in specs:
        video = str(videos[spec.name]) if spec.name in videos else None
        cameras[spec.name] = remote.options(
            name=f"facecam-camera-{spec.name}", num_cpus=config.ray.camera_cpus, max_concurrency=2,
            max_restarts=config.ray.max_restarts, max_task_retries=config.ray.max_restarts,
        ).remote(spec, config, handle, writer, video, keep, detector)
    return writer, cameras


def _wait(cameras: dict, max_frames: int, stop: threading.Event, watch: RunWatch,
          relay=None) -> tuple[dict, str]:
    """Run every camera once all are built; ask them to stop on ``stop``. Returns ``{source:
    figures or error}`` and what was lost (``""``: nothing; the run is then over). ``relay``
    (:class:`~realtime.events.ray_hub.HubRelay`) is asked on every round of the wait while the cameras run."""
    built, lost = _gather({actor.ready.remote(): name for name, actor in cameras.items()}, stop, watch)
    results = {name: value for name, value in built.items() if isinstance(value, dict)}  # the errors
    if stop.is_set() or lost:
        return results, lost

    def ask_to_stop() -> None:
        for actor in cameras.values():
            actor.stop.remote()

    if relay is not None:
        relay.relay(wait=True)  # the log actor learns what the driver's hub wants before any camera asks it
    runs = {actor.run.remote(max_frames): name for name, actor in cameras.items() if name not in results}
    watch.probing = True
    done, lost = _gather(runs, stop, watch, ask_to_stop, relay.relay if relay is not None else None)
    return {**results, **done}, lost


def _gather(refs: dict, stop: threading.Event, watch: RunWatch, on_stop=None, each_round=None) -> tuple[dict, str]:
    """``{source: value}`` of the Ray calls ``refs`` (``{ref: source}``), a failed call giving
    ``{"error": why}``, and what was lost (``""``: nothing). Once ``stop`` is set: without
    ``on_stop``, stop waiting (the calls not done are left out); with it, call it once and wait
    for every call, :data:`_STOP_S` seconds at most. ``watch`` is asked on every round whether
    a node or a camera was lost: then the calls not done give their last known figures."""
    import ray

    values, pending, asked, lost = {}, list(refs), 0.0, ""
    while pending:
        if stop.is_set() and not asked:
            if on_stop is None:
                break
            asked = time.monotonic()
            on_stop()
        lost = watch.check()
        if not lost and asked and time.monotonic() - asked > _STOP_S:
            lost = f"{', '.join(refs[r] for r in pending)}: still running {_STOP_S:.0f} s after being asked to stop"
        if lost:
            break
        done, pending = ray.wait(pending, timeout=0.5)
        if each_round is not None:
            each_round()
        for ref in done:
            try:
                values[refs[ref]] = ray.get(ref)
            except ray.exceptions.RayError as exc:
                values[refs[ref]] = {"error": why_failed(exc)}
    if lost:
        values.update({refs[ref]: {**watch.figures.get(refs[ref], {}), "error": lost} for ref in pending})
    return values, lost


def _finish(handle, writer) -> tuple[dict, dict]:
    """The recogniser's figures and the closed CSV log's (``rows``, ``unwritten``, ``error``)."""
    import ray

    try:
        stats = handle.stats.remote().result(timeout_s=_ANSWER_S)
    except (TimeoutError, RuntimeError, ray.exceptions.RayError):
        stats = {}
    try:
        logged = ray.get(writer.close.remote(), timeout=_ANSWER_S)
    except ray.exceptions.RayError as exc:  # GetTimeoutError too
        logged = {"rows": 0, "unwritten": 0, "error": f"the CSV writer did not close the log: {why_failed(exc)}"}
    return stats, logged


def _report(results: dict, stats: dict, logged: dict, stopped: bool) -> RunReport:
    """The run's figures: ``seconds`` is the longest camera loop (actors' start-up not counted)."""
    from .ray_parts import replica_totals

    seconds = max((r.get("seconds", 0.0) for r in results.values()), default=0.0)
    report = RunReport(seconds=seconds, ended="signal" if stopped else "end")
    named = [r for r in results.values() if r.get("first_name_s") is not None]
    if named:
        first = min(named, key=lambda r: r["first_name_s"])
        report.first_name_s, report.first_name_frame = first["first_name_s"], first["first_name_frame"]
    report.steps = sum(r.get("steps", 0) for r in results.values())
    totals = replica_totals(results, stats)  # every replica's, not only the one that answered ``stats``
    report.cpu_s = sum(r.get("cpu_s", 0.0) for r in results.values()) + totals.get("cpu_s", 0.0)
    fill_sources(report, {name: {**r, "status": r.get("error") or r.get("status", "")} for name, r in results.items()})
    report.model_calls, report.faces_recognized = totals.get("calls", 0), totals.get("faces", 0)
    report.rows, report.rows_unwritten, report.log_error = logged["rows"], logged["unwritten"], logged["error"]
    return report


def run_ray(config: Config, specs: list[SourceSpec], videos: dict[str, Path], max_frames: int,
            stop: threading.Event | None = None, say=print, keep=None, hub=None, models=None) -> RunReport:
    """Run the sources on Ray until they end or ``stop`` is set; returns the run's report, whose
    ``error`` says what failed (a source, a camera, a node of Ray). ``keep``: how faces are kept
    in the face store (``realtime.events.keeper.KeepRules``); ``hub``: the driver's
    :class:`~realtime.events.hub.Hub`, where the rows written and the cameras' views are published
    (:class:`~realtime.events.ray_hub.HubRelay`). ``models``: ``(detector factory, replica class)`` used
    instead of :func:`~realtime.engine.ray_parts.build_detector` and
    :class:`~realtime.engine.ray_parts.RecognizerReplica` (tests, on fake models)."""
    stop = stop or threading.Event()
    processes = RunProcesses()
    started = _start_ray(config, len(specs))
    actors, results, lost = [], {}, ""
    stats, logged = {}, {"rows": 0, "unwritten": 0, "error": ""}
    try:
        say(f"ray: {'started a local Ray' if started else 'joined ' + config.ray.address}; deploying the recognizer")
        detector, replica = models or (None, None)
        handle = _deploy(config, replica)
        writer, cameras = _actors(config, specs, videos, handle, keep, detector)
        actors = [writer, *cameras.values()]
        say(f"ray: {len(cameras)} camera actors started")
        watch = RunWatch(cameras, NodeWatch(), processes if started else None, say, config.ray.max_restarts, writer)
        relay = HubRelay(writer, hub) if hub is not None else None
        results, lost = _wait(cameras, max_frames, stop, watch, relay)
        if not lost:
            stats, logged = _finish(handle, writer)
            if relay is not None:
                relay.relay(wait=True)  # the answer to the take under way, if any
                relay.relay(wait=True)  # the last rows, written as the log closed
        else:
            logged["rows"] = watch.rows()
    finally:
        _stop_ray(started, actors, processes)
    report = _report(results, stats, logged, stop.is_set())
    failed = [f"{name}: {r['error']}" for name, r in results.items() if "error" in r and r["error"] != lost]
    failed += [f"{name}: {r['status']}" for name, r in results.items() if r.get("status", "").startswith("source lost")]
    report.error = "; ".join(([lost] if lost else []) + failed)
    if lost:
        report.ended = "error"
    return report


def _stop_ray(started: bool, actors: list, processes: RunProcesses) -> None:
    """Stop what this run started: the local Ray with everything in it (and, after, any of its
    processes still running), or on a cluster that stays up this run's actors and deployment."""
    import ray
    from ray import serve

    def leave_cluster() -> None:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        serve.delete(APP_NAME)

    if started:
        processes.note()
    try:
        if not started:
            bounded(leave_cluster, _ANSWER_S)
        bounded(ray.shutdown, _ANSWER_S)
    except (TimeoutError, RuntimeError, ray.exceptions.RayError) as exc:
        log.debug("Ray did not shut down cleanly: %s", exc)
    if started:
        processes.end()
