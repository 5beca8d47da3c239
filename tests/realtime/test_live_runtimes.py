"""The same names in the CSV on every clip in ../shared, whether TensorFlow or LiteRT runs the networks."""

from __future__ import annotations

import pytest

from facecore.models import Models
from facecore.runtime import resolve_runtime
from helpers import VIDEOS, need
from test_live_clips import run_clip

pytestmark = pytest.mark.slow

CLIPS = ("obama-biden/obama.mp4", "obama-biden/biden.mp4", "hamilton-whitehouse/short_hamilton_clip.mp4",
         "crowd-unknown/video.mp4")


@pytest.fixture(scope="module")
def models_by_runtime(facenet_config):
    built = {}
    for runtime in ("tensorflow", "litert"):
        config = facenet_config.replace(recognition={"runtime": runtime})
        assert resolve_runtime(config.recognition) == runtime
        built[runtime] = Models.build(config)
    return built


@pytest.mark.parametrize("clip", CLIPS)
def test_both_runtimes_log_the_same_names(tmp_path, models_by_runtime, enrolled_bundle, clip):
    need(VIDEOS / clip)
    names = {}
    for runtime, models in models_by_runtime.items():
        folder = tmp_path / runtime
        folder.mkdir()
        report, rows = run_clip(clip, folder, models, enrolled_bundle, "--set", f"recognition.runtime={runtime}")
        assert report.ended == "end"
        names[runtime] = sorted(r["name"] for r in rows)
    assert names["litert"] == names["tensorflow"]
    assert names["litert"], "nobody was logged: the comparison says nothing"
