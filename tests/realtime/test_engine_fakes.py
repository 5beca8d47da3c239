"""The local engine's step logic on fake models (tests/fakes.py: coloured squares for faces):
one batched call per step for the crops of every source, each source getting its own
share back, votes naming a track, and a recogniser swapped between two steps."""

from __future__ import annotations

import pytest

from facecore.config import load_config
from facecore.faces import PENDING, UNKNOWN
from fakes import ColourDetector, ColourRecognizer, frames
from realtime.engine.step import Engine
from realtime.engine.pipeline import SourceStage


@pytest.fixture
def config():
    # detect and recognise on every frame, decide by 3 of 3 votes: names come after 3 steps
    return load_config(None, ["detector.every_n_frames=1", "tracker.recognize_every=1",
                              "tracker.vote_window=3", "tracker.vote_min=3"])


def _engine(config, recognizer, names=("door", "hall")):
    detector = ColourDetector(config.detector)
    stages = [SourceStage(name, config, detector, recognizer is not None) for name in names]
    return Engine(stages, detector, recognizer), detector


def _run(engine, clips: dict, steps: int):
    out = []
    for i in range(steps):
        out.append(engine.step({name: clip[i] for name, clip in clips.items()}))
    return out


def test_faces_of_every_source_share_one_call_and_each_source_gets_its_own_names(config):
    recognizer = ColourRecognizer(["ada", "grace"])
    engine, _ = _engine(config, recognizer)
    clips = {"door": frames([[("ada", 40, 40, 60)]] * 5),
             "hall": frames([[("grace", 150, 60, 50), ("stranger", 20, 20, 40)]] * 5)}
    last = _run(engine, clips, 5)[-1]
    assert list(last["door"].faces.names) == ["ada"]
    assert sorted(last["hall"].faces.names) == ["grace", UNKNOWN]
    assert set(last["door"].faces.data["source"]) == {"door"}
    assert recognizer.batches == [3] * 5  # one call per step, holding the faces of both sources
    assert engine.counts.calls == 5 and engine.counts.faces_per_call == 3.0


def test_a_name_waits_for_its_votes(config):
    engine, _ = _engine(config, ColourRecognizer(["ada"]), names=("door",))
    snapshots = _run(engine, {"door": frames([[("ada", 40, 40, 60)]] * 4)}, 4)
    assert [s["door"].faces.names[0] for s in snapshots] == [PENDING, PENDING, "ada", "ada"]


def test_a_recogniser_offered_between_steps_names_every_track_afresh(config):
    engine, _ = _engine(config, ColourRecognizer(["ada"]), names=("door",))
    clip = frames([[("ada", 40, 40, 60)]] * 8)
    assert _run(engine, {"door": clip[:4]}, 4)[-1]["door"].faces.names[0] == "ada"
    engine.offer(None)  # the bundle was deleted: nobody is recognised any more
    after = engine.step({"door": clip[4]})["door"]
    assert after.faces.names[0] == UNKNOWN and after.recognized == 0


def test_a_step_without_faces_makes_no_model_call(config):
    recognizer = ColourRecognizer(["ada"])
    engine, detector = _engine(config, recognizer, names=("door",))
    snapshot = engine.step({"door": frames([[]])[0]})["door"]
    assert len(snapshot.faces) == 0 and recognizer.batches == [] and detector.calls == 1
    assert engine.counts.steps == 1 and engine.counts.calls == 0
    assert engine.counts.faces_per_call == 0.0
