"""The People page's operations on real LFW photos (real MTCNN through the import gate, real facenet
for training): uploads judged as ``face-enroll import --relax`` judges photos, the list, one
retraining at a time with its progress, and removal (``--everywhere``)."""

from __future__ import annotations

import pytest

from desks import keep_faces, workspace_config
from facecore.errors import DataError, UsageError
from helpers import lfw_people
from web.desk import Desk
from web.jobs import Busy, Gone
from web.people_ops import add_photos, people, photo_path, remove, retrain


def _uploads(name: str, first: int = 0, last: int = 4) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in lfw_people([name], first, last)[name]]


@pytest.fixture
def desk(tmp_path, facenet_config, facenet_models):
    return Desk(workspace_config(facenet_config, tmp_path), facenet_models, tmp_path)


def test_uploads_go_through_the_import_gate_and_each_refusal_names_the_photo_as_uploaded(desk):
    uploads = _uploads("Amelie_Mauresmo")
    given = uploads + [("notes.jpg", b"not a picture at all"), ("again.jpg", uploads[0][1])]
    out = add_photos(desk, "Amelie", given)
    assert out["name"] == "Amelie" and out["total"] == 6
    assert out["saved"] == [name for name, _ in uploads]
    refused = dict(out["rejected"])
    assert set(refused) == {"notes.jpg", "again.jpg"}
    assert refused["notes.jpg"].startswith("unreadable:") and "upload-" not in refused["notes.jpg"]
    assert "duplicate" in refused["again.jpg"], refused
    assert len(list((desk.data / "Amelie").glob("*.jpg"))) == 4
    with pytest.raises(DataError, match="no photo of Amelie passed") as caught:
        add_photos(desk, "Amelie", [("again.jpg", uploads[1][1])])
    assert [name for name, _ in caught.value.result["rejected"]] == ["again.jpg"]


@pytest.mark.parametrize("name", ["unknown", "../escape", "", "a/b"])
def test_a_name_the_cli_refuses_is_refused_before_anything_is_written(desk, name):
    with pytest.raises(UsageError):
        add_photos(desk, name, [("x.jpg", b"")])
    assert not desk.data.exists() or not any(desk.data.iterdir())


def test_retraining_runs_once_at_a_time_and_the_list_says_who_the_model_knows(desk):
    kept = [len(add_photos(desk, name, _uploads(photos))["saved"]) for name, photos in
            (("Amelie", "Amelie_Mauresmo"), ("Andy", "Andy_Roddick"))]
    assert [(p["name"], p["images"], p["in_model"]) for p in people(desk)] == [("Amelie", kept[0], "no"),
                                                                               ("Andy", kept[1], "no")]
    retrain(desk)
    with pytest.raises(Busy, match="already running"):
        retrain(desk)
    state = desk.jobs.wait(300)
    assert state["state"] == "done", state["message"]
    assert state["computed"] == sum(kept) and "2 people (Amelie, Andy)" in state["message"]
    listed = people(desk)
    assert [p["in_model"] for p in listed] == ["yes", "yes"]
    assert all(0.0 < p["threshold"] <= 1.0 and p["photos"] == list(range(n)) for p, n in zip(listed, kept))
    assert photo_path(desk, "Andy", kept[1] - 1).parent == desk.data / "Andy"
    for folder, number in (("Andy", kept[1]), ("../people", 0), ("Nobody", 0), ("Andy", -1)):
        with pytest.raises(Gone):
            photo_path(desk, folder, number)


def test_removing_everywhere_forgets_their_kept_faces_and_retrains_without_them(desk):
    add_photos(desk, "Amelie", _uploads("Amelie_Mauresmo"))
    add_photos(desk, "Andy", _uploads("Andy_Roddick"))
    store = keep_faces(desk.config, [p for p in lfw_people(["Andy_Roddick"], 4, 6)["Andy_Roddick"]])
    for face in store.faces():
        store.update(face, name="Andy")
    with pytest.raises(Gone):
        remove(desk, "Nobody")
    with pytest.raises(UsageError, match="never removed"):
        remove(desk, "unknown")
    out = remove(desk, "Andy", everywhere=True)
    assert out["lines"][0].startswith("removed Andy: ") and "their cached features" in out["lines"][0]
    assert any(line.startswith("forgot Andy everywhere") and "2 kept faces" in line for line in out["lines"])
    assert not (desk.data / "Andy").exists() and not store.ids()
    state = desk.jobs.wait(300)
    assert state["state"] == "done" and "1 people (Amelie)" in state["message"], state
