"""From unknown to a name on the real clips (real MTCNN, real facenet, real CSV and face store read
back): only Obama enrolled, face-live over biden.mp4 and the Hamilton clip keeps the strangers'
faces; review groups them by person (judged against the hand labels of ``clip_labels.py``);
naming Biden's group makes the next run over his clip name him; removing him everywhere
leaves no file under data/, models/ and logs/ that mentions him.

face-live looks at every frame here and calls the model every 3rd frame per track
(``CLIP_SETTINGS``): Alex Lacamoire's close-up lasts under a second and is in profile, and the
default cadence never decides his track, so none of his faces would be kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clip_labels import who
from enroll.clusters import purity
from enroll.cli import main
from enroll.training import train
from facecore.csvlog import read_log
from helpers import VIDEOS, copy_people, need
from live_helpers import facenet_sets
from realtime.cli import live

pytestmark = pytest.mark.slow

CLIPS = {"podium": VIDEOS / "obama-biden" / "biden.mp4",
         "stage": VIDEOS / "hamilton-whitehouse" / "short_hamilton_clip.mp4"}
CLIP_SETTINGS = ["--set", "detector.every_n_frames=1", "--set", "tracker.recognize_every=3"]


def _paths(root: Path) -> list[str]:
    return ["--data", str(root / "data" / "people"), "--model", str(root / "models" / "current"),
            "--log", str(root / "logs" / "recognitions.csv")]


def _live(root: Path, models, *sources: str) -> None:
    argv = [arg for s in sources for arg in ("--source", f"{s}={need(CLIPS[s])}")]
    live([*argv, "--headless", *_paths(root)[2:], "--faces", str(root / "data" / "faces"),
          *facenet_sets(), *CLIP_SETTINGS], models=models)


def _enroll(root: Path, args: list[str]) -> tuple[int, str]:
    """``face-enroll ARGS`` in this process, in the workspace; returns the exit code and stdout."""
    import contextlib
    import io
    import os

    out, here = io.StringIO(), os.getcwd()
    os.chdir(root)  # the face store, the review sheets and the cache are at their default places there
    try:
        with contextlib.redirect_stdout(out):
            code = main([*args, *_paths(root), *facenet_sets(), "--set", "train.min_images=1"])
    finally:
        os.chdir(here)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, facenet_config, facenet_models):
    """Only Obama enrolled (his two stills), face-live over both clips, then the review's JSON."""
    root = tmp_path_factory.mktemp("review")
    stills = sorted((need(VIDEOS / "obama-biden" / "enroll" / "obama")).iterdir())
    data = copy_people(root / "data" / "people", {"obama": stills})
    config = facenet_config.replace(train={"min_images": 1, "cache_dir": str(root / "data" / "cache")})
    train(config, data, root / "models" / "current", models=facenet_models, progress=False)
    _live(root, facenet_models, "podium", "stage")
    code, out = _enroll(root, ["review", "--json"])
    assert code == 0
    return root, json.loads(out)


def _labels(root: Path) -> dict[str, str | None]:
    """Who each kept face shows, by the hand labels."""
    out = {}
    for record in (root / "data" / "faces").glob("*.json"):
        face = json.loads(record.read_text())
        out[face["id"]] = who(CLIPS[face["source"]].name, face["frame"], face["box"])
    return out


def test_review_separates_biden_and_the_two_hamilton_people_with_purity_over_090(workspace):
    root, printed = workspace
    saved = json.loads((root / "data" / "review" / "clusters.json").read_text())["clusters"]
    labels = _labels(root)
    faces = [(int(c), labels[i]) for c, ids in saved.items() for i in ids]
    unlabelled = [i for ids in saved.values() for i in ids if labels[i] is None]
    assert not unlabelled, f"faces no hand label covers (look at them, add a rule): {unlabelled}"
    clusters, people = np.array([c for c, _ in faces]), np.array([p for _, p in faces])
    assert purity(clusters, people) >= 0.9
    main_cluster = {}
    for person in ("biden", "lin_manuel_miranda", "alex_lacamoire"):
        assert person in people, f"no face of {person} was kept"
        numbers, counts = np.unique(clusters[people == person], return_counts=True)
        main_cluster[person] = int(numbers[counts.argmax()])
        members = people[clusters == main_cluster[person]]
        assert np.mean(members == person) >= 0.9, f"{person}'s cluster mixes people: {list(members)}"
    assert len(set(main_cluster.values())) == 3
    assert [c["id"] for c in printed["clusters"]] == sorted(int(c) for c in saved)
    assert printed["clusters"][0]["faces"] == max(len(ids) for ids in saved.values())
    sources = {s for c in printed["clusters"] for s in c["sources"]}
    assert sources == {"podium", "stage"} and all((root / c["sheet"]).is_file() for c in printed["clusters"])


@pytest.fixture(scope="module")
def biden_named(workspace, facenet_models):
    """Biden's cluster named (its best faces imported, the model retrained), then his clip again."""
    root, _ = workspace
    saved = json.loads((root / "data" / "review" / "clusters.json").read_text())["clusters"]
    labels = _labels(root)
    number = max(saved, key=lambda c: sum(labels[i] == "biden" for i in saved[c]))
    code, out = _enroll(root, ["review", "--name", number, "biden"])
    assert code == 0 and f"cluster {number} " in out and "is now biden" in out, out
    before = len(read_log(root / "logs" / "recognitions.csv"))
    _live(root, facenet_models, "podium")
    return root, read_log(root / "logs" / "recognitions.csv")[before:]


def test_naming_bidens_cluster_then_running_his_clip_again_names_him(biden_named):
    root, rows = biden_named
    assert [r["name"] for r in rows] == ["biden"], rows
    assert (root / "data" / "people" / "biden").is_dir()
    snapshot = Path(rows[0]["snapshot"])
    assert snapshot.parent == root / "data" / "faces" and snapshot.is_file()


def test_remove_everywhere_leaves_no_file_that_mentions_him(biden_named):
    root, _ = biden_named
    record = next((root / "data" / "faces").glob("*.json"))
    record.write_bytes(record.read_bytes()[:40])  # a half-written face is skipped, never a crash
    code, out = _enroll(root, ["remove", "biden", "--everywhere"])
    assert code == 0 and "forgot biden everywhere: " in out, out
    for top in ("data", "models", "logs"):
        for path in (root / top).rglob("*"):
            assert "biden" not in str(path.relative_to(root)).lower(), path
            assert not path.is_file() or b"biden" not in path.read_bytes().lower(), path
    assert [r["name"] for r in read_log(root / "logs" / "recognitions.csv")] and \
        all(r["name"] != "biden" for r in read_log(root / "logs" / "recognitions.csv"))
