"""Two people enrolled from two photos each (real MTCNN and facenet, the clips): the threshold is
still usable. Obama and Biden are named in their own clips, and nobody else is named in the
Hamilton clip (judged by the hand labels of ``clip_labels.py``)."""

from __future__ import annotations

import pytest

from clip_labels import who
from facecore.csvlog import read_log
from helpers import VIDEOS, copy_people, need
from live_helpers import facenet_sets
from realtime.cli import live

pytestmark = pytest.mark.slow

CLIPS = {"obama.mp4": "obama-biden/obama.mp4", "biden.mp4": "obama-biden/biden.mp4",
         "short_hamilton_clip.mp4": "hamilton-whitehouse/short_hamilton_clip.mp4"}


def test_two_photos_each_name_both_people_in_their_clips_and_no_stranger(tmp_path, facenet_config, facenet_models):
    from enroll.training import threshold_lines, train

    stills = {n: sorted(need(VIDEOS / "obama-biden" / "enroll" / n).iterdir()) for n in ("obama", "biden")}
    assert all(len(p) == 2 for p in stills.values())
    data = copy_people(tmp_path / "people", stills)
    config = facenet_config.replace(train={"cache_dir": str(tmp_path / "cache")})
    result = train(config, data, tmp_path / "model", models=facenet_models, progress=False)
    assert any("more photos" in line for line in threshold_lines(result))
    sources = [a for name, clip in CLIPS.items() for a in ("--source", f"{name}={need(VIDEOS / clip)}")]
    live([*sources, "--headless", "--model", str(tmp_path / "model"), "--log", str(tmp_path / "log.csv"),
          *facenet_sets()], models=facenet_models)
    rows = read_log(tmp_path / "log.csv")
    named = {(r["source"], r["name"]) for r in rows if r["name"] != "unknown"}
    assert ("obama.mp4", "obama") in named and ("biden.mp4", "biden") in named, rows
    assert ("obama.mp4", "biden") not in named and ("biden.mp4", "obama") not in named, rows
    for r in rows:
        if r["source"] == "short_hamilton_clip.mp4" and r["name"] != "unknown":
            box = [float(r[k]) for k in ("x1", "y1", "x2", "y2")]
            assert r["name"] == who(r["source"], int(r["frame"]), box) == "obama", r
