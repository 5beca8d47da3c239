"""face-enroll correct on real LFW faces (real MTCNN, real facenet, real commands in this process):
a stranger named as someone is corrected with --not and is not named so at the next eval; the
stricter threshold's cost is reported; --is adds a face to a person's photos."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from enroll.cli import main
from enroll.evaluation import evaluate
from enroll.training import train
from facecore.bundle import load_bundle
from facecore.facestore import FaceStore, StoredFace, new_face_id
from facecore.features import features_for_images
from facecore.images import list_images
from facecore.recognizer import Recognizer
from helpers import DATA, copy_people, lfw_people, need

PEOPLE = ["Abdullah_Gul", "Amelie_Mauresmo", "Andy_Roddick"]


@pytest.fixture
def workspace(tmp_path, monkeypatch, facenet_config, facenet_models):
    """Three LFW people enrolled; the command-line runs reuse the session's models."""
    monkeypatch.setattr("facecore.backbones.build_backbone", lambda *args, **kw: facenet_models.backbone)
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: facenet_models.detector)
    data = copy_people(tmp_path / "people", lfw_people(PEOPLE, 0, 6))
    config = facenet_config.replace(train={"cache_dir": str(tmp_path / "cache"), "data": str(data),
                                           "model": str(tmp_path / "model")},
                                    faces={"folder": str(tmp_path / "faces")})
    train(config, data, tmp_path / "model", models=facenet_models, progress=False)
    return tmp_path, config


def _keep(store: FaceStore, photo: Path, name: str) -> Path:
    """``photo`` as a face face-live kept and named ``name``."""
    now = datetime.now(timezone.utc)
    return store.add(StoredFace(new_face_id(now), now.isoformat(), "door", 1, 0, name), photo.read_bytes())


def _args(root: Path, config, *extra: str) -> list[str]:
    sets = ["backbone.name=facenet", f"backbone.weights={config.backbone.weights}",
            f"train.cache_dir={config.train.cache_dir}", *extra]
    return ["--data", config.train.data, "--model", config.train.model, "--faces", config.faces.folder,
            *[a for s in sets for a in ("--set", s)]]


def test_a_face_corrected_as_not_someone_is_not_named_so_at_the_next_eval(workspace, facenet_models, capsys):
    root, config = workspace
    recognizer = Recognizer.from_bundle(load_bundle(config.train.model), config, facenet_models.backbone)
    strangers = list_images(need(DATA / "unknown-dev" / "lfw"), recursive=True)[:30]
    found = features_for_images([("_", p) for p in strangers], facenet_models.detector, facenet_models.backbone,
                                config, None, False)
    scores = recognizer.head.scores(np.stack(found.features))
    worst = int(scores.max(axis=1).argmax())  # the stranger most like someone enrolled
    victim, score = recognizer.labels[int(scores[worst].argmax())], float(scores[worst].max())
    # a threshold set by hand just under that score: face-live names the stranger so, a mistake
    lenient = ["recognition.use_calibrated=false", f"recognition.threshold={score - 0.01:.4f}"]
    config = config.replace(recognition={"use_calibrated": False, "threshold": round(score - 0.01, 4)})
    picture = _keep(FaceStore(config.faces.folder), found.paths[worst], victim)
    known = copy_people(root / "check", {victim: [picture]})

    before = evaluate(config, known, config.train.model, models=facenet_models, progress=False).report
    assert before["per_person"][victim]["accuracy"] == 1.0 and before["person_thresholds"] == {}

    assert main(["correct", str(picture), "--not", victim, *_args(root, config, *lenient)]) == 0
    out = capsys.readouterr().out
    assert f"kept as a counter-example of {victim}: " in out
    assert f"{victim}: 1 counter-examples; the stricter threshold refuses " in out
    assert (Path(config.train.data) / victim / "not" / "0001.jpg").read_bytes() == picture.read_bytes()
    assert FaceStore(config.faces.folder).find(picture).name == "unknown"  # back among the strangers

    after = evaluate(config, known, config.train.model, models=facenet_models, progress=False).report
    assert after["per_person"][victim]["accuracy"] == 0.0, "the corrected face is still named " + victim
    bound = load_bundle(config.train.model).meta["person_thresholds"][victim]
    assert bound > score and after["person_thresholds"][victim]["threshold"] == pytest.approx(bound)
    assert after["person_thresholds"][victim]["refused"] == 1


def test_a_face_corrected_as_someone_joins_their_photos(workspace, capsys):
    root, config = workspace
    photo = lfw_people(PEOPLE[1:2], 8, 9)[PEOPLE[1]][0]  # a photo of theirs never enrolled
    picture = _keep(FaceStore(config.faces.folder), photo, "unknown")
    small = "capture.min_face_px=40"  # LFW's faces are about 60 px: the gate's other rules still apply
    assert main(["correct", str(picture), "--is", PEOPLE[1], *_args(root, config, small)]) == 0
    assert f"added to {PEOPLE[1]}'s photos: " in capsys.readouterr().out
    assert len(list_images(Path(config.train.data) / PEOPLE[1])) == 7
    assert FaceStore(config.faces.folder).find(picture).name == PEOPLE[1]
    assert load_bundle(config.train.model).meta["people"][PEOPLE[1]] == 7
