"""The People page in a real browser (Playwright + Debian's Chromium; real MTCNN and facenet):
upload photos of a new person, the retraining runs, and the person appears as known to the model."""

from __future__ import annotations

import pytest

from desks import workspace_config
from facecore.models import Models
from helpers import copy_people, lfw_people

pytestmark = pytest.mark.slow


def test_photos_of_a_new_person_uploaded_then_retrained_make_them_known(serve, page, workspace, facenet_config,
                                                                        facenet_models, monkeypatch):
    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config, **kw: facenet_models))
    config = workspace_config(facenet_config, workspace)
    copy_people(workspace / "data" / "people", {"Andy": lfw_people(["Andy_Roddick"], 0, 4)["Andy_Roddick"]})
    url, _ = serve(config=config)
    page.goto(f"{url}/people")
    assert page.locator('tr[data-person="Andy"] td.in-model').inner_text() == "no"
    page.fill("#add-name", "Amelie")
    page.set_input_files("#add-photos", [str(p) for p in lfw_people(["Amelie_Mauresmo"], 0, 4)["Amelie_Mauresmo"]])
    page.click("#add-person button[type=submit]")
    page.wait_for_selector("#add-result p", timeout=60_000)
    assert "photos of Amelie" in page.inner_text("#add-result")
    page.wait_for_selector('tr[data-person="Amelie"] td.in-model:text-is("yes")', timeout=240_000)
    assert page.locator('tr[data-person="Andy"] td.in-model').inner_text() == "yes"
    assert "retraining done" in page.inner_text("#retrain-state")
    assert page.locator('tr[data-person="Amelie"] img.thumb').count() >= 2
    first = page.locator('tr[data-person="Amelie"] img.thumb').first
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", first.element_handle())
