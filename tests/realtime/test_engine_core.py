"""The engine core's shared rules (realtime/engine/core.py) on fake models, and the Ray engine's log actor
(realtime/events/ray_hub.py) called directly, without a cluster: what to draw on a frame, the batched
call split back, the first name's time, and the rows and views the driver's hub receives."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from facecore.camera import Frame
from facecore.config import Config, load_config
from facecore.csvlog import read_log
from facecore.errors import FacecamError
from facecore.faces import Faces
from fakes import ColourDetector, ColourRecognizer, frames, scene
from realtime.engine.core import FirstName, drawn_faces, recognize_batched
from realtime.engine.step import Engine
from realtime.events.records import EventMaker
from realtime.engine.pipeline import StepResult, SourceStage
from realtime.events.ray_hub import LogWriter
from realtime.engine.scenes import CutWatch
from realtime.events.writer import view_record


def _snapshot(frame_index: int, time_s: float, n: int = 2) -> StepResult:
    boxes = np.array([[10, 10, 50, 50], [60, 10, 100, 50]][:n], np.float32)
    faces = Faces(boxes, np.full(n, 0.9, np.float32), names=np.array(["ada", "grace"][:n], object))
    return StepResult("door", frame_index, time_s, faces)


def _cuts_at(index: int) -> CutWatch:
    """A CutWatch that has seen a cut at frame ``index`` (grey frames, then a red one)."""
    cuts = CutWatch(0.15)
    for i in range(index):
        cuts.see(Frame(i, scene([]), i / 10))
    cuts.see(Frame(index, np.full((240, 320, 3), (220, 40, 40), np.uint8), index / 10))
    assert cuts.count == 1
    return cuts


def test_a_snapshot_within_stale_s_is_drawn_as_it_is():
    faces = drawn_faces(_snapshot(10, 1.0), Frame(14, scene([]), 1.4), CutWatch(0.15), stale_s=1.0)
    assert list(faces.names) == ["ada", "grace"] and not faces.column("stale", False).any()


def test_a_snapshot_older_than_stale_s_is_drawn_all_grey():
    faces = drawn_faces(_snapshot(10, 1.0), Frame(25, scene([]), 2.5), CutWatch(0.15), stale_s=1.0)
    assert list(faces.names) == ["ada", "grace"] and faces.column("stale", False).all()


def test_nothing_of_a_snapshot_is_drawn_across_a_scene_cut_and_nothing_without_one():
    cuts = _cuts_at(12)
    assert len(drawn_faces(_snapshot(10, 1.0), Frame(13, scene([]), 1.3), cuts, stale_s=1.0)) == 0
    assert len(drawn_faces(_snapshot(12, 1.2), Frame(13, scene([]), 1.3), cuts, stale_s=1.0)) == 2
    assert len(drawn_faces(None, Frame(13, scene([]), 1.3), cuts, stale_s=1.0)) == 0


def test_one_call_for_several_requests_is_split_back_in_order():
    recognizer = ColourRecognizer(["ada", "grace"])
    crop = lambda colour: recognizer.crops(scene([(colour, 0, 0, 40)]), Faces(  # noqa: E731
        np.array([[0, 0, 40, 40]], np.float32), np.ones(1, np.float32)))
    requests = [np.concatenate([crop("ada"), crop("stranger")]), crop("grace")]
    parts = recognize_batched(recognizer, requests)
    assert recognizer.batches == [3]
    assert [list(p.names) for p in parts] == [["ada", "unknown"], ["grace"]]


def test_the_first_name_is_timed_at_the_first_step_that_confirms_one():
    config = load_config(None, ["detector.every_n_frames=1", "tracker.recognize_every=1",
                                "tracker.vote_window=3", "tracker.vote_min=3"])
    detector = ColourDetector(config.detector)
    engine = Engine([SourceStage("door", config, detector, True)], detector, ColourRecognizer(["ada"]))
    engine.start_clock()
    clip = frames([[]] * 2 + [[("ada", 40, 40, 60)]] * 4)
    for frame in clip:
        engine.step({"door": frame})
    assert engine.first_name.frame == 4 and engine.first_name.seconds > 0  # 3 votes: frames 2, 3, 4
    unnamed = FirstName()
    unnamed.note(_snapshot(3, 0.3, n=0))
    assert unnamed.seconds is None and unnamed.frame is None


def test_the_log_actor_hands_the_driver_its_rows_and_views_only_while_wanted(tmp_path):
    config = Config().replace(log={"path": str(tmp_path / "log.csv")}, faces={"folder": ""})
    writer = LogWriter(config)
    maker = EventMaker(config.log)
    detector = ColourDetector(config.detector)
    stage = SourceStage("door", config.replace(detector={"every_n_frames": 1}), detector, False)
    snapshot = stage.finish(stage.begin(frames([[("ada", 40, 40, 60)]])[0], None))
    view = view_record(snapshot)
    writer.view(view)  # nobody subscribed to the driver's hub yet: dropped
    assert writer.write(maker.events(snapshot, scene([]))) == 1
    taken = writer.take(views=True, watching=("door",))
    assert [r["name"] for r in taken["sightings"]] == ["unknown"] and taken["views"] == []
    assert writer.wants() == {"views": True, "watching": ("door",)}
    writer.view(view)
    again = writer.take(views=True, watching=())
    assert again["sightings"] == [] and [v["source"] for v in again["views"]] == ["door"]
    assert writer.wants() == {"views": True, "watching": ()}
    assert writer.close()["rows"] == 1 and [r["name"] for r in read_log(tmp_path / "log.csv")] == ["unknown"]


@pytest.mark.parametrize("views", [False, True])
def test_the_log_actor_holds_a_bounded_number_of_views(tmp_path, views):
    from realtime.events.ray_hub import MAX_VIEWS

    writer = LogWriter(Config().replace(log={"path": ""}, faces={"folder": ""}))
    writer.take(views=views)
    for i in range(MAX_VIEWS + 5):
        writer.view({"source": "door", "frame": i})
    held = writer.take(views=views)["views"]
    assert [v["frame"] for v in held] == (list(range(5, MAX_VIEWS + 5)) if views else [])


def test_a_ray_camera_draws_a_late_label_grey_and_nothing_across_a_cut_on_its_video():
    """The camera actor's class, called directly: what it writes to its video follows the core's
    rule (before, a Ray video drew every label in its colour, however old)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    from facecore.source_names import SourceSpec
    from realtime.window.overlay import COLOURS
    from realtime.engine.ray_parts import CameraWorker

    config = Config()
    camera = CameraWorker(SourceSpec("door", "door.mp4"), config, None, None,
                          detector=lambda c: ColourDetector(c.detector))
    written = []
    video = type("Video", (), {"write": lambda self, image: written.append(image)})()
    result = _snapshot(10, 1.0)
    camera._show(Frame(12, scene([]), 1.2), result, video, {"frames": 0})  # 0.2 s later: as it is
    camera._show(Frame(30, scene([]), 3.0), result, video, {"frames": 0})  # 2 s later: grey
    grey = [int((np.abs(w.astype(int) - COLOURS["stale"]).max(axis=2) == 0).sum()) for w in written]
    assert grey[0] == 0 and grey[1] > 100, grey
    camera.stage.cuts = _cuts_at(31)
    camera._show(Frame(32, scene([]), 3.2), _snapshot(30, 3.0), video, {"frames": 0})
    assert np.array_equal(written[-1], scene([]))  # the shot before the cut: nothing drawn


def test_a_bundle_trained_on_another_backbone_gets_that_backbone_built_and_warmed_up(tmp_path, monkeypatch):
    """load_recognizer, which the local reloader and the Ray replica both call: the bundle was
    trained on vgg16 without weights, the backbone in use has ImageNet's."""
    from facecore.bundle import Bundle, save_bundle
    from helpers import BUNDLE_META
    from realtime.engine.core import load_recognizer

    built = []

    class FakeBackbone:
        def __init__(self, config, *args):
            self.config, self.weights_id, self.input_size, self.warmed = config, config.weights, 224, 0
            built.append(self)

        def warm_up(self, every_size: bool = False) -> None:
            self.warmed += 1

    monkeypatch.setattr("facecore.recognizer.runtime_backbone", lambda config: FakeBackbone(config.backbone))
    path = save_bundle(tmp_path / "model", Bundle({"centroids": np.eye(2, dtype=np.float32)}, ["ann", "bob"],
                                                  dict(BUNDLE_META)))
    config = Config().replace(backbone={"name": "vgg16", "weights": "imagenet"})
    in_use = FakeBackbone(config.backbone)
    recognizer, used = load_recognizer(path, config, in_use)
    assert used.backbone.weights == "none" and recognizer.labels == ["ann", "bob"]
    assert recognizer.backbone is built[-1] is not in_use and recognizer.backbone.warmed == 1
    same, _ = load_recognizer(path, used, recognizer.backbone)  # the same bundle again: its backbone is reused
    assert same.backbone is recognizer.backbone and len(built) == 2
    assert load_recognizer(tmp_path / "none", config, in_use) == (None, config)


class _Answer:
    """A Serve response: ``result`` runs ``value`` (which may wait, or raise ``TimeoutError``)."""

    def __init__(self, value) -> None:
        self.value = value

    def result(self, timeout_s=None):
        return self.value(timeout_s)


class _SlowDetector(ColourDetector):
    """A :class:`ColourDetector` that takes 30 ms a frame, so that a run of 90 frames lasts
    longer than one look interval of the camera actor."""

    def detect(self, frame):
        time.sleep(0.03)
        return super().detect(frame)


def _ray_camera(tmp_path, monkeypatch, later_looks):
    """A camera actor's class, called directly, on a 90-frame clip of ada; its recogniser handle
    answers the first look for its spec at once and each later one with ``later_looks``; the log
    actor is a stand-in whose ``wants`` is read without Ray. Returns the camera, the looks made and the
    replica figures each answer carries."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    import cv2
    import ray

    from facecore.source_names import SourceSpec
    from realtime.engine import ray_parts

    clip = tmp_path / "door.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (320, 240))
    for i in range(90):
        writer.write(cv2.cvtColor(scene([("ada", 40 + i % 30, 60, 90)]), cv2.COLOR_RGB2BGR))
    writer.release()
    recognizer = ColourRecognizer(["ada"])
    tally = {"replica": "one", "calls": 1, "faces": 1, "cpu_s": 0.0}
    looks = []

    def spec(timeout_s):
        looks.append(time.monotonic())
        if len(looks) > 1:
            return later_looks(timeout_s)
        return {"id": "one", "size": recognizer.backbone.input_size, "margin": recognizer.crop.margin, "align": False}

    remote = lambda f: type("Method", (), {"remote": staticmethod(f)})()  # noqa: E731
    handle = type("Handle", (), {"spec": remote(lambda: _Answer(spec)),
                                 "recognize": remote(lambda crops: _Answer(lambda t: (recognizer.recognize_crops(crops), tally)))})()
    log_actor = type("LogActor", (), {"wants": remote(lambda: {"views": False, "watching": ()}),
                                      "write": remote(lambda events: None), "view": remote(lambda view: None)})()
    monkeypatch.setattr(ray, "get", lambda ref, timeout=None: ref)  # the stand-in's answers are plain values
    monkeypatch.setattr(ray_parts, "LOOK_S", 0.1)
    config = Config().replace(log={"path": ""}, faces={"folder": ""}, detector={"every_n_frames": 1},
                              tracker={"recognize_every": 5})
    camera = ray_parts.CameraWorker(SourceSpec("door", str(clip)), config, handle, log_actor,
                                    detector=lambda c: _SlowDetector(c.detector))
    return camera, looks, tally


def test_a_ray_cameras_steps_go_on_while_a_look_at_the_replica_waits(tmp_path, monkeypatch):
    """The camera actor asks the replica for its bundle every 2 s. The replica answers only once the
    batch it runs is done (0.3 to 0.75 s at 8 sources on 2 cores), and the step that asked waited
    for it: that camera's naming stalled. Here every look after the first waits until the run is
    over: the run's 90 frames (2.7 s or more) are stepped and ada is named all the same."""
    over = threading.Event()

    def after_the_run(timeout_s):
        if not over.wait(10.0):
            raise TimeoutError
        return None

    camera, looks, tally = _ray_camera(tmp_path, monkeypatch, after_the_run)
    try:
        figures = camera.run()
        assert len(looks) >= 2  # a look was waiting while the run went on
    finally:
        over.set()
        camera._looker.join(10.0)  # answered after the run: it does nothing more, and ends
    assert not camera._looker.is_alive()
    assert figures["frames"] == 90 and figures["steps"] == 90 and figures["status"] == "ended"
    assert figures["first_name_frame"] is not None and figures["requests"] > 0
    assert figures["replicas"] == {"one": tally}  # the replica's figures, from its answers


def test_a_replica_that_does_not_answer_a_look_ends_the_cameras_run_with_why(tmp_path, monkeypatch):
    """The look runs on its own thread; a replica that does not answer it still ends the camera's
    run (at its next step), saying which part did not answer."""
    def no_answer(timeout_s):
        raise TimeoutError

    camera, looks, _ = _ray_camera(tmp_path, monkeypatch, no_answer)
    with pytest.raises(FacecamError, match="the recognizer did not answer"):
        camera.run()
    camera._looker.join(10.0)
    assert len(looks) == 2 and not camera._looker.is_alive()


def test_a_runs_recogniser_figures_add_up_every_replica_from_the_latest_answer_each_gave():
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    from realtime.engine.ray_parts import replica_totals

    def tally(key, calls, faces, cpu_s):
        return {"replica": key, "calls": calls, "faces": faces, "cpu_s": cpu_s}

    cameras = {"door": {"replicas": {"a": tally("a", 3, 5, 1.0), "b": tally("b", 7, 9, 2.0)}},
               "hall": {"replicas": {"a": tally("a", 4, 6, 1.5)}},  # a's later answer
               "yard": {"error": "lost"}}
    assert replica_totals(cameras, {"calls": 99, "faces": 99, "cpu_s": 9.0}) == {"calls": 11, "faces": 15, "cpu_s": 3.5}
    asked = {"calls": 0, "faces": 0, "cpu_s": 0.2}
    assert replica_totals({"door": {"replicas": {}}}, asked) == asked  # nobody answered: the replica asked at the end
