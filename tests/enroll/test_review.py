"""face-enroll review on real LFW faces (real MTCNN, real facenet): the clustering rule, grouping
strangers, a review with nobody enrolled (features computed from the pictures), damaged faces
skipped, the JSON, the sheets, discarding a cluster."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from enroll.cli import main
from enroll.clusters import (DEFAULT_DISTANCE, cluster, hard_impostors, measured_distance, merge_distance, pair_scores,
                             purity, purity_distance)
from enroll.review import merge_distance_for, review
from enroll.training import train
from facecore.csvlog import CsvLog, read_log
from facecore.facestore import FaceStore, StoredFace, new_face_id
from facecore.features import features_for_images
from facecore.heads import unit_features
from helpers import copy_people, lfw_people

PEOPLE = ["Abdullah_Gul", "Amelie_Mauresmo", "Andy_Roddick", "Ann_Veneman", "Bill_Clinton", "Britney_Spears",
          "Condoleezza_Rice", "Fidel_Castro"]
START = datetime.now(timezone.utc) - timedelta(hours=2)


@pytest.fixture(scope="module")
def lfw_features(facenet_config, facenet_models):
    """Unit features of 4 photos each of 8 LFW people, with their names and paths."""
    items = [(name, path) for name, paths in lfw_people(PEOPLE, 0, 4).items() for path in paths]
    found = features_for_images(items, facenet_models.detector, facenet_models.backbone, facenet_config, None, False)
    return unit_features(np.stack(found.features)), np.array(found.people), found.paths


def test_the_merge_distance_weighs_a_wrong_merge_four_times_a_split():
    genuine, impostor = np.linspace(0.5, 0.9, 100), np.linspace(0.0, 0.6, 100)
    distance = merge_distance(genuine, impostor)
    s = 1.0 - distance
    far, frr = np.mean(impostor >= s), np.mean(genuine < s)
    best = min(4 * np.mean(impostor >= t) + np.mean(genuine < t) for t in np.linspace(0, 1, 2001))
    assert 4 * far + frr <= best + 1e-9 and 0.55 < s < 0.65
    with pytest.raises(ValueError):
        merge_distance(genuine, [])


def test_strangers_group_by_person_at_the_default_distance(lfw_features):
    x, people, _ = lfw_features
    groups = cluster(x, DEFAULT_DISTANCE["facenet"])
    assert purity(groups, people) >= 0.9 and len(PEOPLE) <= len(np.unique(groups)) <= len(PEOPLE) + 3
    assert list(cluster(x[:1], 0.5)) == [0] and len(cluster(x[:0], 0.5)) == 0


def test_the_distance_is_measured_on_enrolled_photos_only_with_three_people_or_more(lfw_features):
    x, people, _ = lfw_features
    measured = measured_distance(x, people)
    genuine, _ = pair_scores(x, people)
    hard = hard_impostors(x, people)
    assert measured == {"distance": round(purity_distance(genuine, hard), 4), "genuine_pairs": len(genuine),
                        "impostor_pairs": len(hard)}
    two = np.isin(people, PEOPLE[:2])
    assert measured_distance(x[two], people[two]) is None


def _store(root: Path, paths: list, features=None) -> FaceStore:
    """The photos as faces face-live kept of strangers, one a minute (features: ``None`` for each
    face when given ``None``, as when nobody was enrolled)."""
    store = FaceStore(root / "faces")
    with CsvLog(root / "log.csv") as log:
        for i, path in enumerate(paths):
            when = START + timedelta(minutes=i)
            vector = None if features is None else features[i]
            face = StoredFace(new_face_id(when), when.isoformat(), f"cam{i % 2}", i, 0, "unknown", 0.5,
                              (0, 0, 250, 250), {"score": 0.5 + i / 1000}, vector, "")
            snapshot = store.add(face, Path(path).read_bytes())
            log.append({"time": face.time, "name": "unknown", "track": i, "source": face.source,
                        "snapshot": str(snapshot)})
    return store


def test_review_with_nobody_enrolled_skips_damaged_faces_and_prints_json(tmp_path, facenet_config, facenet_models,
                                                                          lfw_features, capsys, caplog):
    _, people, paths = lfw_features
    store = _store(tmp_path, paths[:12])  # 3 people, 4 photos each; no features: nobody was enrolled
    damaged = sorted((tmp_path / "faces").glob("*.json"))
    damaged[0].write_bytes(damaged[0].read_bytes()[:50])  # half-written record
    (tmp_path / "faces" / f"{damaged[1].stem}.jpg").write_bytes(b"\xff\xd8 cut short")  # damaged picture
    sets = {"faces": {"folder": str(tmp_path / "faces")}, "review": {"sheets": str(tmp_path / "sheets")},
            "train": {"model": str(tmp_path / "no-model")}, "log": {"path": str(tmp_path / "log.csv")}}
    config = facenet_config.replace(**sets)
    assert merge_distance_for(config)[1] == "the facenet default, measured on LFW"
    with caplog.at_level(logging.WARNING):
        result = review(config, models=facenet_models)
    assert "skipping the stored face" in caplog.text and "left out of the review" in caplog.text
    assert result.skipped == 1 and sum(len(c.faces) for c in result.clusters) == 10
    truth = {str(p): person for p, person in zip(paths, people)}
    by_picture = {f.id: truth[str(paths[f.track])] for c in result.clusters for f in c.faces}
    groups = np.array([c.id for c in result.clusters for _ in c.faces])
    assert purity(groups, np.array([by_picture[f.id] for c in result.clusters for f in c.faces])) == 1.0
    assert all(f.features is not None for f in store.faces() if f.id in by_picture)  # computed once, kept
    assert [c.id for c in result.clusters] == list(range(1, len(result.clusters) + 1))
    assert [len(c.faces) for c in result.clusters] == sorted((len(c.faces) for c in result.clusters), reverse=True)
    assert all(c.sheet.read_bytes()[:4] == b"\x89PNG" for c in result.clusters)

    args = ["--faces", str(tmp_path / "faces"), "--sheets", str(tmp_path / "sheets"), "--model",
            str(tmp_path / "no-model"), "--log", str(tmp_path / "log.csv"), *_facenet_sets(facenet_config)]
    assert main(["review", "--json", *args]) == 0  # every face has its features now: no model is built
    printed = json.loads(capsys.readouterr().out)
    assert [set(c) for c in printed["clusters"]] == [{"id", "faces", "first_seen", "last_seen", "sources",
                                                      "sheet"}] * len(result.clusters)
    first = printed["clusters"][0]
    assert first["faces"] == len(result.clusters[0].faces) and first["sources"] == ["cam0", "cam1"]
    assert first["first_seen"] <= first["last_seen"] and Path(first["sheet"]).is_file()

    gone = {f.id for f in result.clusters[0].faces}
    assert main(["review", "--discard", "1", *args]) == 0
    assert not gone & set(store.ids()) and not (tmp_path / "sheets" / "cluster-001.png").exists()
    emptied = [r for r in read_log(tmp_path / "log.csv") if r["snapshot"] == ""]
    assert len(emptied) == len(gone)  # their rows stay; the cells that pointed at them are empty
    assert main(["review", "--discard", "1", *args]) == 2  # it is gone from the last review


def _facenet_sets(config) -> list[str]:
    return ["--set", "backbone.name=facenet", "--set", f"backbone.weights={config.backbone.weights}"]


def test_one_person_enrolled_uses_the_default_and_three_use_their_own_photos(tmp_path, facenet_config,
                                                                              facenet_models):
    config = facenet_config.replace(train={"cache_dir": str(tmp_path / "cache"), "model": str(tmp_path / "m")})
    one = copy_people(tmp_path / "one", lfw_people(PEOPLE[:1], 0, 4))
    train(config, one, tmp_path / "m", models=facenet_models, progress=False)
    assert merge_distance_for(config)[1] == "the facenet default, measured on LFW"
    three = copy_people(tmp_path / "three", lfw_people(PEOPLE[:3], 0, 5))
    train(config, three, tmp_path / "m", models=facenet_models, progress=False)
    distance, basis = merge_distance_for(config)
    # impostor pairs: each of the 3 with the one most like them, 2 or 3 pairs of people x 25 photo pairs
    assert basis in {f"measured on the enrolled photos (30 genuine and {n} impostor pairs)" for n in (50, 75)}
    assert 0 < distance < 1
    assert merge_distance_for(config.replace(review={"distance": 0.3})) == (0.3, "review.distance")


def _constrained_store(root: Path, paths: list, features, together: tuple[int, int]) -> FaceStore:
    """The photos as kept faces with their features, one a minute; the two faces ``together`` were
    seen in one frame, side by side."""
    store = FaceStore(root / "faces")
    for i, path in enumerate(paths):
        k = together[0] if i == together[1] else i
        when = START + timedelta(minutes=k)
        face = StoredFace(new_face_id(when), when.isoformat(), "cam", i, k, "unknown", 0.5,
                          (300.0 * (i == together[1]), 0.0, 250.0 + 300 * (i == together[1]), 250.0),
                          {"score": 0.5 + i / 1000}, features[i], "")
        store.add(face, Path(path).read_bytes())
    return store


def test_merge_split_and_naming_part_of_a_cluster_refuse_what_would_enroll_two_people(
        tmp_path, facenet_config, facenet_models, lfw_features, capsys):
    """3 people x 4 photos; Amelie's first face and Andy's first were seen together in one frame."""
    x, people, paths = lfw_features
    tag = f"facenet:{facenet_models.backbone.weights_id}"
    store = _constrained_store(tmp_path, paths[4:16], x[4:16], together=(0, 4))
    for f in store.faces():
        store.update(f, backbone=tag)
    truth = {f.id: people[4 + f.track] for f in store.faces()}
    args = ["--faces", str(tmp_path / "faces"), "--sheets", str(tmp_path / "sheets"), "--model",
            str(tmp_path / "no-model"), "--data", str(tmp_path / "people"), "--no-train",
            "--set", f"train.cache_dir={tmp_path / 'cache'}", "--set", "capture.min_face_px=40",
            *_facenet_sets(facenet_config)]  # these LFW faces are about 50 px
    assert main(["review", "--json", *args]) == 0
    saved = lambda: json.loads((tmp_path / "sheets" / "clusters.json").read_text())["clusters"]  # noqa: E731
    whose = {c: {truth[i] for i in ids} for c, ids in saved().items()}
    assert all(len(p) == 1 for p in whose.values()) and len(whose) == 3
    amelie, andy = (next(c for c, p in whose.items() if name in p) for name in PEOPLE[1:3])
    capsys.readouterr()
    assert main(["review", "--merge", amelie, andy, *args]) == 1  # seen together: two people
    assert "seen together in one frame" in capsys.readouterr().err
    assert main(["review", "--merge", amelie, andy, "--force", *args]) == 0
    assert andy not in saved() and len(saved()[amelie]) == 8
    assert main(["review", "--name", amelie, "Amelie", *args]) == 1  # two people: refused, nothing written
    err = capsys.readouterr().err
    assert "do not look like the others" in err and not (tmp_path / "people").exists()
    apart = {i for i in saved()[amelie] if i in err}
    assert apart and len({truth[i] for i in apart}) == 1  # the faces named are one person's
    assert main(["review", "--split", amelie, *args]) == 0
    assert sorted(len(ids) for ids in saved().values()) == [4, 4, 4]
    assert all(len({truth[i] for i in ids}) == 1 for ids in saved().values())
    one = next(c for c, ids in saved().items() if truth[ids[0]] == PEOPLE[1])
    assert main(["review", "--name", one, "Amelie", "--only", saved()[one][0], *args]) == 1  # 1 photo < 2
    assert "nothing was written" in capsys.readouterr().err and not (tmp_path / "people").exists()
    leave = saved()[one][0]
    assert main(["review", "--name", one, "Amelie", "--except", leave, *args]) == 0
    assert len(list((tmp_path / "people" / "Amelie").glob("*.jpg"))) == 3 and saved()[one] == [leave]
    other = next(c for c, ids in saved().items() if truth[ids[0]] == PEOPLE[3])
    assert main(["review", "--name", other, "Amelie", *args]) == 1  # not like Amelie's photos
    assert "like Amelie's photos" in capsys.readouterr().err
    assert len(list((tmp_path / "people" / "Amelie").glob("*.jpg"))) == 3


def test_a_face_the_live_detector_found_is_not_rejected_as_no_face_found(tmp_path, facenet_config, detector):
    """Frame 84 of biden.mp4 as face-live keeps it (the square around the live box): MTCNN finds no
    face in that picture as it is, but the import, told the box, finds it with a border around."""
    import cv2

    from enroll.people import import_photos
    from facecore.facestore import box_in_crop, face_crop
    from facecore.images import encode_jpeg, read_image
    from helpers import VIDEOS, need

    capture = cv2.VideoCapture(str(need(VIDEOS / "obama-biden" / "biden.mp4")))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 84)
    frame = cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB)
    capture.release()
    box, capture_config = np.array([612.08, 105.85, 745.38, 303.55]), facenet_config.capture
    picture = face_crop(frame, box, capture_config.image_margin, capture_config.image_px)
    path = tmp_path / "kept.jpg"
    path.write_bytes(encode_jpeg(picture))  # as face-live keeps it
    if len(detector.detect(read_image(path))):
        pytest.skip("this MTCNN finds the face in the picture as it is: nothing to check")
    at = box_in_crop(box, picture.shape, capture_config.image_margin, capture_config.image_px)
    result = import_photos(facenet_config, "biden", [path], tmp_path / "people", detector, relax=True,
                           boxes={path: at})
    assert result.saved or "no face found" not in result.rejected[0][1], result.rejected
