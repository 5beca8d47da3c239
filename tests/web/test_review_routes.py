"""The Review page's routes on faces kept of real LFW strangers (real MTCNN and facenet): the
cards (``cluster-<id>``, ``face-<id>``), naming a selection, a stale page answered 409, and two
browsers naming one cluster at once over real HTTP: one enrolls it, the other gets 409."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from desks import keep_faces, workspace_config
from facecore.models import Models
from helpers import lfw_people
from web_helpers import csrf_of

PEOPLE = ["Amelie_Mauresmo", "Andy_Roddick", "Ann_Veneman"]


@pytest.fixture
def config(workspace, facenet_config, facenet_models, monkeypatch):
    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config, **kw: facenet_models))
    config = workspace_config(facenet_config, workspace)
    photos = lfw_people(PEOPLE, 0, 4)
    keep_faces(config, [p for name in PEOPLE for p in photos[name]])
    return config


def _cards(html: str) -> dict[int, dict]:
    """``{cluster: {"version", "faces"}}`` as the page shows them."""
    cards = {}
    for number, version, body in re.findall(r'<section class="card cluster" id="cluster-(\d+)" data-cluster="\d+" '
                                            r'data-version="(\w+)">(.*?)</section>', html, re.S):
        cards[int(number)] = {"version": version, "faces": re.findall(r'<figure class="face selected" id="face-([^"]+)"',
                                                                      body)}
    return cards


def test_the_page_shows_cards_and_names_a_selection_once(make_app, config):
    client, _ = make_app(config=config)
    page = client.get("/review")
    assert page.status_code == 200
    cards, csrf = _cards(page.text), {"X-CSRF-Token": csrf_of(page.text)}
    assert sorted(len(c["faces"]) for c in cards.values()) == [4, 4, 4]
    first = cards[1]
    assert client.get(f"/faces/{first['faces'][0]}.jpg").status_code == 200
    form = {"cluster": "1", "version": first["version"], "name": "Stranger One", "faces": ",".join(first["faces"][:3])}
    assert client.post("/review/name", data=form).status_code == 403  # no CSRF token
    named = client.post("/review/name", data=form, headers=csrf)
    assert named.status_code == 200, named.text
    assert named.json()["name"] == "Stranger One" and named.json()["left"] == first["faces"][3:]
    again = client.post("/review/name", data=form, headers=csrf)
    assert again.status_code == 409 and "reload the page" in again.json()["error"]
    after = client.get("/review").text
    assert _cards(after)[1]["faces"] == first["faces"][3:] and "not Stranger One" in after
    bad = client.post("/review/name", data={**form, "version": _cards(after)[1]["version"], "name": "unknown"},
                      headers=csrf)
    assert bad.status_code == 400 and "error" in bad.json()
    client.app.state.desk.jobs.wait(300)


def test_discard_merge_and_correct_answer_json_with_their_status(make_app, config):
    client, _ = make_app(config=config)
    page = client.get("/review").text
    cards, csrf = _cards(page), {"X-CSRF-Token": csrf_of(page)}
    merged = client.post("/review/merge", data={"a": 1, "version_a": cards[1]["version"], "b": 2,
                                                "version_b": cards[2]["version"]}, headers=csrf)
    assert merged.status_code == 200 and merged.json()["faces"] == 8
    stale = client.post("/review/discard", data={"cluster": 1, "version": cards[1]["version"]}, headers=csrf)
    assert stale.status_code == 409
    gone = client.post("/review/discard", data={"cluster": 3, "version": cards[3]["version"]}, headers=csrf)
    assert gone.status_code == 200 and gone.json()["faces"] == 4
    face = cards[1]["faces"][0]
    wrong = client.post("/review/correct", data={"face": face, "person": "Nobody", "how": "not"}, headers=csrf)
    assert wrong.status_code == 400 and "nobody named 'Nobody'" in wrong.json()["error"]
    missing = client.post("/review/correct", data={"face": "../../etc/passwd", "person": "A", "how": "is"}, headers=csrf)
    assert missing.status_code == 404
    how = client.post("/review/correct", data={"face": face, "person": "A", "how": "maybe"}, headers=csrf)
    assert how.status_code == 400


def _browser(url: str) -> tuple[httpx.Client, dict]:
    """A client with its own session, as a second browser window would have."""
    client = httpx.Client(base_url=url, timeout=300)
    page = client.get("/review")
    return client, {"X-CSRF-Token": csrf_of(page.text), "card": _cards(page.text)}


def test_two_browsers_naming_one_cluster_at_once_enroll_it_once(serve, config):
    url, context = serve(config=config)
    windows = [_browser(url), _browser(url)]
    card = windows[0][1]["card"][1]
    assert windows[1][1]["card"][1] == card  # both show the same cluster, same version
    barrier, answers = threading.Barrier(2), []

    def name(window, who: str) -> None:
        client, state = window
        form = {"cluster": "1", "version": card["version"], "name": who}
        barrier.wait()
        answers.append(client.post("/review/name", data=form, headers={"X-CSRF-Token": state["X-CSRF-Token"]}))

    threads = [threading.Thread(target=name, args=(w, who)) for w, who in zip(windows, ("First", "Second"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    won, lost = sorted(answers, key=lambda a: a.status_code)
    assert "reload the page" in lost.json()["error"]
    people = sorted(p.name for p in (context.root / "data" / "people").iterdir())
    assert people == [won.json()["name"]]
    photos = list((context.root / "data" / "people" / people[0]).glob("*.jpg"))
    assert len(photos) == won.json()["saved"] > 0
    client = windows[0][0]
    while client.get("/people/retrain").json()["state"] == "running":  # the naming's retraining
        time.sleep(0.2)
    for client, _ in windows:
        client.close()
