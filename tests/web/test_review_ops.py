"""The Review page's operations on faces kept of real LFW strangers (real MTCNN and facenet): the
clusters with their versions, naming a selection, merging, discarding, "not NAME" / "is NAME" and
undo, and two windows naming one cluster at once."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from desks import keep_faces, workspace_config
from facecore.errors import DataError
from facecore.facestore import StoredFace, new_face_id
from helpers import lfw_people
from web.desk import Desk
from web.jobs import Gone, Stale
from web.review_ops import (clusters, correct, discard, face_path, merge, name, named_faces, regroup, undo,
                            ungrouped)

PEOPLE = ["Amelie_Mauresmo", "Andy_Roddick", "Ann_Veneman"]


@pytest.fixture
def desk(tmp_path, facenet_config, facenet_models):
    desk = Desk(workspace_config(facenet_config, tmp_path), facenet_models, tmp_path)
    photos = lfw_people(PEOPLE, 0, 4)
    store = keep_faces(desk.config, [p for name in PEOPLE for p in photos[name]])
    desk.truth = {f.id: PEOPLE[f.track // 4] for f in store.faces()}
    return desk


def _cluster_of(desk, person: str) -> dict:
    return next(c for c in clusters(desk) if desk.truth[c["faces"][0]["id"]] == person)


def test_the_strangers_come_as_one_cluster_per_person_each_with_a_version(desk):
    found = clusters(desk)  # no review yet: one is made
    assert len(found) == 3 and all(len(c["faces"]) == 4 for c in found)
    assert all(len({desk.truth[f["id"]] for f in c["faces"]}) == 1 for c in found)
    assert len({c["version"] for c in found}) == 3 and clusters(desk) == found  # shown again, not regrouped
    assert face_path(desk, found[0]["faces"][0]["id"]).is_file()
    for bad in ("../people", "x/../../etc", "nope"):
        with pytest.raises(Gone):
            face_path(desk, bad)
    assert ungrouped(desk) == 0
    late = lfw_people([PEOPLE[0]], 4, 5)[PEOPLE[0]][0]
    desk.store().add(StoredFace(new_face_id(datetime.now(timezone.utc)), datetime.now(timezone.utc).isoformat(),
                                "cam", 99, 99, "unknown", 0.5, (0, 0, 250, 250), {"score": 0.9}), late.read_bytes())
    assert ungrouped(desk) == 1 and len(clusters(desk)) == 3  # shown once grouped again
    assert regroup(desk) == 3 and ungrouped(desk) == 0
    assert sum(len(c["faces"]) for c in clusters(desk)) == 13


def test_naming_a_selection_enrolls_those_faces_and_leaves_the_rest_in_the_cluster(desk):
    amelie = _cluster_of(desk, PEOPLE[0])
    chosen = [f["id"] for f in amelie["faces"][:3]]
    with pytest.raises(Stale, match="changed since this page showed it"):
        name(desk, amelie["id"], "0" * 16, "Amelie", chosen)
    out = name(desk, amelie["id"], amelie["version"], "Amelie", chosen)
    assert out["named"] == chosen and out["left"] == [amelie["faces"][3]["id"]]
    assert out["saved"] == len(list((desk.data / "Amelie").glob("*.jpg"))) >= 2
    assert {f["id"] for f in named_faces(desk)} == set(chosen)
    rest = next(c for c in clusters(desk) if c["id"] == amelie["id"])
    assert [f["id"] for f in rest["faces"]] == out["left"] and rest["version"] != amelie["version"]
    with pytest.raises(Stale, match="reload the page"):
        name(desk, amelie["id"], amelie["version"], "Amelie", chosen)
    desk.jobs.wait(300)


def test_another_persons_cluster_is_not_named_as_someone_it_does_not_look_like(desk):
    amelie, andy = _cluster_of(desk, PEOPLE[0]), _cluster_of(desk, PEOPLE[1])
    name(desk, amelie["id"], amelie["version"], "Amelie")
    desk.jobs.wait(300)
    with pytest.raises(DataError, match="like Amelie's photos"):
        name(desk, andy["id"], andy["version"], "Amelie")
    assert len(next(c for c in clusters(desk) if c["id"] == andy["id"])["faces"]) == 4


def test_merge_then_discard_act_on_the_clusters_shown(desk):
    andy, ann = _cluster_of(desk, PEOPLE[1]), _cluster_of(desk, PEOPLE[2])
    merged = merge(desk, andy["id"], andy["version"], ann["id"], ann["version"])
    assert merged["faces"] == 8 and ann["id"] not in {c["id"] for c in clusters(desk)}
    with pytest.raises(Stale):
        discard(desk, andy["id"], andy["version"])  # the page still shows it unmerged
    out = discard(desk, andy["id"], merged["version"])
    assert out["faces"] == 8 and len(desk.store().ids()) == 4 and len(clusters(desk)) == 1


def test_not_name_is_name_and_undo_work_on_any_kept_face(desk):
    amelie = _cluster_of(desk, PEOPLE[0])
    name(desk, amelie["id"], amelie["version"], "Amelie", [f["id"] for f in amelie["faces"][:3]])
    desk.jobs.wait(300)
    wrong = _cluster_of(desk, PEOPLE[1])["faces"][0]["id"]
    out = correct(desk, wrong, is_name="Amelie")
    assert out["name"] == "Amelie" and desk.store().find(wrong).name == "Amelie"
    desk.jobs.wait(300)
    out = correct(desk, wrong, not_name="Amelie")
    assert (desk.data / "Amelie" / "not" / f"{wrong}.jpg").is_file() and "counter-example" in out["lines"][0]
    desk.jobs.wait(300)
    undo(desk, wrong)
    assert not (desk.data / "Amelie" / "not" / f"{wrong}.jpg").exists()
    desk.jobs.wait(300)


def test_two_windows_naming_one_cluster_at_once_enroll_it_once(desk):
    ann = _cluster_of(desk, PEOPLE[2])
    barrier, outcomes = threading.Barrier(2), []

    def window(who: str) -> None:
        barrier.wait()
        try:
            outcomes.append(("named", name(desk, ann["id"], ann["version"], who)))
        except Stale as exc:
            outcomes.append(("stale", str(exc)))

    threads = [threading.Thread(target=window, args=(who,)) for who in ("Ann", "Annie")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sorted(kind for kind, _ in outcomes) == ["named", "stale"], outcomes
    winner = next(out for kind, out in outcomes if kind == "named")
    enrolled = [p for p in desk.data.iterdir() if p.is_dir()]
    assert [p.name for p in enrolled] == [winner["name"]]
    assert len(list(enrolled[0].glob("*.jpg"))) == winner["saved"]
    assert {desk.store().find(i).name for i in desk.truth if desk.truth[i] == PEOPLE[2]} == {winner["name"]}
    desk.jobs.wait(300)
