"""The Review page in a real browser (Playwright + Debian's Chromium; real MTCNN and facenet): a
stranger's cluster named by clicking, then the recogniser the app runs (``POST /api/recognize``,
face-live's detector and recogniser) names that person in a photo it never saw."""

from __future__ import annotations

import time

import httpx
import pytest

from desks import keep_faces, workspace_config
from facecore.models import Models
from helpers import copy_people, lfw_people

pytestmark = pytest.mark.slow


def test_a_cluster_named_by_clicking_is_recognised_by_the_next_run(serve, page, workspace, facenet_config,
                                                                    facenet_models, monkeypatch):
    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config, **kw: facenet_models))
    config = workspace_config(facenet_config, workspace)
    known = lfw_people(["Amelie_Mauresmo", "Andy_Roddick"], 0, 4)
    copy_people(workspace / "data" / "people", {"Amelie": known["Amelie_Mauresmo"], "Andy": known["Andy_Roddick"]})
    ann = lfw_people(["Ann_Veneman"], 0, 10)["Ann_Veneman"]
    keep_faces(config, ann[:6])  # a stranger face-live kept six faces of
    url, _ = serve(config=config)
    with httpx.Client(base_url=url, timeout=60) as api:
        before = api.post("/api/recognize", files={"image": ("ann.jpg", ann[8].read_bytes(), "image/jpeg")}).json()

    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{url}/review")
    card = page.locator("section.cluster").first
    assert card.get_attribute("id").startswith("cluster-") and card.locator(".face").count() == 6
    card.locator(".face .pick").last.click()  # leave the last face out of the selection
    assert card.locator(".face.selected").count() == 5
    card.locator(".name-cluster input[name=name]").fill("Ann")
    card.locator(".name-cluster button[type=submit]").click()
    page.wait_for_selector("#message:not([hidden])")
    assert "is now Ann" in page.inner_text("#message"), page.inner_text("#message")
    page.wait_for_selector("section.cluster .face:only-child", timeout=30_000)  # reloaded: one face left in it

    with httpx.Client(base_url=url, timeout=60) as api:
        deadline = time.monotonic() + 240
        while (job := api.get("/people/retrain").json())["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert job["state"] == "done", job
        after = api.post("/api/recognize", files={"image": ("ann.jpg", ann[8].read_bytes(), "image/jpeg")}).json()
    assert [f["name"] for f in before["faces"]] == ["unknown"]
    assert [f["name"] for f in after["faces"]] == ["Ann"], after
    page.goto(f"{url}/people")
    assert page.locator('tr[data-person="Ann"] td.in-model').inner_text() == "yes"


def _reloaded(page, action) -> None:
    """Run ``action`` (a click whose answer reloads the page) and wait for the new page."""
    try:
        with page.expect_navigation(timeout=120_000):
            action()
    except Exception:
        raise AssertionError(f"the page did not reload; it says: {page.inner_text('#message')!r}") from None


def test_merge_correct_undo_and_discard_by_clicking(serve, page, workspace, facenet_config, facenet_models,
                                                    monkeypatch):
    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config, **kw: facenet_models))
    config = workspace_config(facenet_config, workspace)
    known = lfw_people(["Amelie_Mauresmo", "Andy_Roddick"], 0, 4)
    copy_people(workspace / "data" / "people", {"Amelie": known["Amelie_Mauresmo"], "Andy": known["Andy_Roddick"]})
    strangers = lfw_people(["Ann_Veneman", "Bill_Clinton"], 0, 3)
    keep_faces(config, strangers["Ann_Veneman"] + strangers["Bill_Clinton"])
    url, _ = serve(config=config)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{url}/review", timeout=120_000)
    assert page.locator("section.cluster").count() == 2
    first = page.locator("section.cluster").first
    _reloaded(page, lambda: first.locator(".merge-cluster button").click())
    assert page.locator("section.cluster").count() == 1 and page.locator("section.cluster .face").count() == 6

    face = page.locator("section.cluster .face").first
    face_id = face.get_attribute("data-face")
    face.locator("summary").click()
    face.locator("input[name=person]").fill("Amelie")
    _reloaded(page, lambda: face.locator("button[value=is]").click())
    named = page.locator(f'#named .face[data-face="{face_id}"]')
    assert named.get_attribute("data-name") == "Amelie"
    _reloaded(page, lambda: named.locator("button[value=not]").click())
    assert page.locator(f'#corrections tr[data-face="{face_id}"]').count() == 1
    assert (workspace / "data" / "people" / "Amelie" / "not" / f"{face_id}.jpg").is_file()
    _reloaded(page, lambda: page.locator(f'#corrections tr[data-face="{face_id}"] button').click())
    assert page.locator("#corrections").count() == 0
    assert not (workspace / "data" / "people" / "Amelie" / "not" / f"{face_id}.jpg").exists()

    cluster = page.locator("section.cluster").first
    _reloaded(page, lambda: cluster.locator(".discard-cluster button").click())
    assert page.locator("section.cluster").count() == 0 and page.locator("#no-clusters").count() == 1
