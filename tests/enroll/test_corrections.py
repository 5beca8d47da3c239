"""face-enroll correct on real LFW faces (real MTCNN, real facenet, real commands in this process):
a stranger named as someone is corrected with --not and is not named so at the next eval; the
stricter threshold's cost is reported; --undo takes a --not back; --is adds a face to a person's
photos, and names a kept face of a group scene even when its picture cannot be one."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from enroll.cli import main
from enroll.evaluation import evaluate
from enroll.training import train
from facecore.bundle import load_bundle
from facecore.facestore import FaceStore, StoredFace, face_crop, new_face_id
from facecore.features import features_for_images
from facecore.images import encode_jpeg, list_images, read_image
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


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
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
    assert f"{victim}: 1 counter-example; the stricter threshold refuses " in out
    assert (Path(config.train.data) / victim / "not" / picture.name).read_bytes() == picture.read_bytes()
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
    assert f"relabelled and added to {PEOPLE[1]}'s photos: " in capsys.readouterr().out
    assert len(list_images(Path(config.train.data) / PEOPLE[1])) == 7
    assert FaceStore(config.faces.folder).find(picture).name == PEOPLE[1]
    assert load_bundle(config.train.model).meta["people"][PEOPLE[1]] == 7


def test_a_not_is_listed_and_undone_by_face_id_and_the_model_retrained_without_it(workspace, capsys):
    root, config = workspace
    stranger = list_images(need(DATA / "unknown-dev" / "lfw"), recursive=True)[0]
    picture = _keep(FaceStore(config.faces.folder), stranger, PEOPLE[0])
    assert main(["correct", str(picture), "--not", PEOPLE[0], *_args(root, config)]) == 0
    assert PEOPLE[0] in load_bundle(config.train.model).meta["person_thresholds"]
    capsys.readouterr()

    assert main(["list", "--corrections", "--data", config.train.data]) == 0
    listed = capsys.readouterr().out
    assert PEOPLE[0] in listed and picture.stem in listed and "not/" in listed

    assert main(["correct", picture.stem, "--undo", *_args(root, config)]) == 0
    out = capsys.readouterr().out
    assert out.count("undone: ") == 1 and f"no longer a counter-example of {PEOPLE[0]}" in out
    assert not list_images(Path(config.train.data) / PEOPLE[0] / "not")
    assert PEOPLE[0] not in load_bundle(config.train.model).meta.get("person_thresholds", {})
    assert main(["correct", picture.stem, "--undo", *_args(root, config)]) == 2  # nothing left to undo
    assert "is not a counter-example of anyone" in capsys.readouterr().err


def _group_face(store: FaceStore, config) -> Path:
    """A kept face of a group scene, as face-live keeps it: three real LFW faces side by side, so
    close that the picture of the middle one (the box with ``capture.image_margin`` around it)
    shows part of a neighbour's face; its record holds its box in the scene."""
    from facecore.config import DetectorConfig
    from facecore.detector import Detector

    photos = lfw_people(["Abdullah_Gul", PEOPLE[1], PEOPLE[2]], 8, 9)
    strips = []
    for photo in (p[0] for p in photos.values()):
        image = read_image(photo)
        left = (image.shape[1] - 60) // 2
        strips.append(image[:, left:left + 60])
    scene = cv2.resize(np.hstack(strips), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    faces = Detector(DetectorConfig()).detect(scene)
    middle = int(np.argmin(np.abs((faces.boxes[:, 0] + faces.boxes[:, 2]) / 2 - scene.shape[1] / 2)))
    box = faces.boxes[middle]
    now = datetime.now(timezone.utc)
    face = StoredFace(new_face_id(now), now.isoformat(), "door", 3, 0, "unknown", box=tuple(float(v) for v in box))
    jpeg = encode_jpeg(face_crop(scene, box, config.capture.image_margin, config.capture.image_px))
    return store.add(face, jpeg)


def test_is_relabels_a_group_scene_face_and_adds_it_by_its_own_box(workspace, facenet_models, capsys):
    root, config = workspace
    store = FaceStore(config.faces.folder)
    picture = _group_face(store, config)
    assert len(facenet_models.detector.detect(read_image(picture))) == 2  # a neighbour is in the picture
    before = len(list_images(Path(config.train.data) / PEOPLE[1]))
    assert main(["correct", str(picture), "--is", PEOPLE[1], "--no-train", *_args(root, config)]) == 0
    assert f"relabelled and added to {PEOPLE[1]}'s photos: " in capsys.readouterr().out
    assert store.find(picture).name == PEOPLE[1]
    added = sorted(list_images(Path(config.train.data) / PEOPLE[1]))
    assert len(added) == before + 1
    saved = read_image(added[-1])  # the saved photo is centred on the face of the box, not the neighbour
    found = facenet_models.detector.detect(saved)
    centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2 / np.array(saved.shape[1::-1])
    assert np.min(np.abs(centres - 0.5).max(axis=1)) < 0.1


def test_is_relabels_even_when_the_photo_is_refused_and_says_why(workspace, capsys):
    root, config = workspace
    store = FaceStore(config.faces.folder)
    picture = _group_face(store, config)
    strict = "capture.min_face_px=400"  # no face of the scene is this large
    assert main(["correct", str(picture), "--is", PEOPLE[2], "--no-train", *_args(root, config, strict)]) == 0
    assert "relabelled; not added as a photo: face too small: " in capsys.readouterr().out
    assert store.find(picture).name == PEOPLE[2]
    assert len(list_images(Path(config.train.data) / PEOPLE[2])) == 6
