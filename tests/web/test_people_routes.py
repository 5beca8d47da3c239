"""The People page's routes in process (TestClient; real MTCNN through the gate, real facenet):
the page, uploads with each photo's reason, the caps, photos served by number only, retraining
with its progress, removal; every error a JSON ``{"error"}`` with its status."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from desks import workspace_config
from facecore.models import Models
from helpers import lfw_people
from web_helpers import csrf_of


@pytest.fixture
def app(make_app, workspace, facenet_config, facenet_models, monkeypatch):
    """A client on the app in a fresh workspace (facenet, LFW-sized faces), its CSRF token, its context."""
    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config, **kw: facenet_models))
    client, context = make_app(config=workspace_config(facenet_config, workspace).replace(
        web={"max_upload_mb": 1.0, "max_pixels": 4_000_000}))
    page = client.get("/people")
    assert page.status_code == 200 and 'id="nobody"' in page.text
    return client, {"X-CSRF-Token": csrf_of(page.text)}, context


def _files(person: str, first: int = 0, last: int = 4) -> list:
    return [("photos", (p.name, p.read_bytes(), "image/jpeg")) for p in lfw_people([person], first, last)[person]]


def _png(w: int, h: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (w, h)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_an_upload_is_judged_per_photo_and_the_person_is_listed_with_photos_served_by_number(app):
    client, csrf, context = app
    files = _files("Amelie_Mauresmo") + [("photos", ("notes.txt", b"hello", "text/plain"))]
    assert client.post("/people/add", data={"name": "Amelie"}, files=files).status_code == 403  # no CSRF token
    answer = client.post("/people/add", data={"name": "Amelie"}, files=files, headers=csrf)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert len(out["saved"]) >= 2 and [name for name, _ in out["rejected"]][-1] == "notes.txt"
    assert out["rejected"][-1][1].startswith("unreadable:")
    page = client.get("/people").text
    assert 'data-person="Amelie"' in page and '/people/photos/Amelie/0"' in page
    photo = client.get("/people/photos/Amelie/0")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    for url in ("/people/photos/Amelie/99", "/people/photos/..%2F..%2Fetc/0", "/people/photos/Nobody/0"):
        missing = client.get(url)
        assert missing.status_code == 404 and "error" in missing.json(), url


def test_bad_names_empty_uploads_and_oversized_images_are_clear_errors(app):
    client, csrf, _ = app
    for name in ("unknown", "a/b"):
        answer = client.post("/people/add", data={"name": name}, files=_files("Amelie_Mauresmo", 0, 1), headers=csrf)
        assert answer.status_code == 400 and answer.json()["error"], name
    nothing = client.post("/people/add", data={"name": "Ann"}, files=[("photos", ("", b"", "image/jpeg"))],
                          headers=csrf)
    assert nothing.status_code == 400 and "choose one or more photos" in nothing.json()["error"]
    bomb = client.post("/people/add", data={"name": "Ann"}, files=[("photos", ("bomb.png", _png(4000, 4000), "image/png"))],
                       headers=csrf)
    assert bomb.status_code == 413 and "bomb.png" in bomb.json()["error"] and "web.max_pixels" in bomb.json()["error"]
    big = client.post("/people/add", data={"name": "Ann"}, files=[("photos", ("big.jpg", b"\xff" * 1_200_000, "image/jpeg"))],
                      headers=csrf)
    assert big.status_code == 413 and "web.max_upload_mb" in big.json()["error"]
    refused = client.post("/people/add", data={"name": "Ann"}, files=[("photos", ("x.jpg", b"not a photo", "image/jpeg"))],
                          headers=csrf)
    assert refused.status_code == 400 and refused.json()["rejected"][0][0] == "x.jpg"


def test_retraining_shows_its_progress_and_the_list_then_says_the_model_knows_them(app):
    client, csrf, context = app
    for name, person in (("Amelie", "Amelie_Mauresmo"), ("Andy", "Andy_Roddick")):
        assert client.post("/people/add", data={"name": name}, files=_files(person), headers=csrf).status_code == 200
    assert client.get("/people/retrain").json() == {"state": "none"}
    started = client.post("/people/retrain", headers=csrf)
    assert started.status_code == 202 and started.json()["kind"] == "retraining"
    again = client.post("/people/retrain", headers=csrf)
    assert again.status_code == 409 and "already running" in again.json()["error"]
    state = client.app.state.desk.jobs.wait(300)
    assert state["state"] == "done" and client.get("/people/retrain").json()["state"] == "done"
    page = client.get("/people").text
    assert page.count('<td class="in-model">yes</td>') == 2 and "retraining done" in page
    gone = client.post("/people/remove", data={"name": "Andy", "everywhere": "1"}, headers=csrf)
    assert gone.status_code == 200 and gone.json()["lines"][0].startswith("removed Andy")
    assert client.app.state.desk.jobs.wait(300)["state"] == "done"
    assert 'data-person="Andy"' not in client.get("/people").text
    assert client.post("/people/remove", data={"name": "Andy"}, headers=csrf).status_code == 404


def test_with_a_password_the_people_and_review_pages_and_their_actions_need_a_login(make_app, login):
    client, _ = make_app("web.password=correct horse battery")
    for url in ("/people", "/review", "/people/photos/Ann/0", "/people/retrain"):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), url
    for url in ("/people/add", "/people/remove", "/people/retrain", "/review/name", "/review/discard"):
        assert client.post(url, data={"name": "Ann"}, follow_redirects=False).status_code == 303, url
    login(client)
    assert client.get("/people").status_code == 200 and client.get("/review").status_code == 200
