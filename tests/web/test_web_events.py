"""The Events page, its CSV export and the API's events, people and recognize, in process
(a small event database; a fake recogniser where the subject is the route, not the models)."""

from __future__ import annotations

import csv
import io

import numpy as np
from PIL import Image

from web_helpers import fill_events


def _png(w: int, h: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_the_events_page_filters_by_name_and_shows_each_events_face_and_the_day_summary(make_app, workspace):
    ids = fill_events(workspace, {"Ada Lovelace": 2, "unknown": 1, "Alan Turing": 1})
    client, _ = make_app()
    page = client.get("/events?name=Ada+Lovelace").text
    assert page.count("<tr data-event=") == 2 and "Alan Turing" not in page.split('id="summary"')[0]
    assert f"/faces/{ids[0]}.jpg" in page and f"/faces/{ids[1]}.jpg" in page
    assert client.get(f"/faces/{ids[0]}.jpg").content[:2] == b"\xff\xd8"
    summary = page.split('id="summary"')[1]
    assert "Ada Lovelace" in summary and ">2<" in summary and "Alan Turing" not in summary
    strangers = client.get("/events?unknown=1").text
    assert f'href="/review#face-{ids[2]}"' in strangers


def test_the_events_page_shows_pages_of_50(make_app, workspace):
    fill_events(workspace, {"Ada Lovelace": 55})
    client, _ = make_app()
    first, second = client.get("/events").text, client.get("/events?page=2").text
    assert first.count("<tr data-event=") == 50 and "page=2" in first
    assert second.count("<tr data-event=") == 5 and "page=1" in second and "page=3" not in second


def test_the_csv_export_holds_every_filtered_row_with_formulas_neutralized(make_app, workspace):
    fill_events(workspace, {"Ada Lovelace": 3, "=cmd|calc": 1, "Alan Turing": 2})
    client, _ = make_app()
    response = client.get("/events.csv?name=Ada+Lovelace")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3 and {r["name"] for r in rows} == {"Ada Lovelace"}
    everyone = list(csv.DictReader(io.StringIO(client.get("/events.csv").text)))
    assert len(everyone) == 6 and not any(r["name"].startswith("=") for r in everyone)


def test_bad_filters_are_a_clear_400_in_the_page_and_in_the_api(make_app, workspace):
    fill_events(workspace, {"Ada Lovelace": 1})
    client, _ = make_app()
    page = client.get("/events?since=yesterday-ish", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "span back from now" in page.text and 'value="yesterday-ish"' in page.text
    api = client.get("/api/events?name=../etc&since=2h")
    assert api.status_code == 400 and set(api.json()) == {"error"}
    both = client.get("/api/events?name=Ada+Lovelace&unknown=true")
    assert both.status_code == 400


def test_the_api_lists_events_the_day_summary_and_people(make_app, workspace):
    fill_events(workspace, {"Ada Lovelace": 2, "Alan Turing": 1})
    (workspace / "data" / "people" / "Ada Lovelace").mkdir(parents=True)
    (workspace / "data" / "people" / "Ada Lovelace" / "1.jpg").write_bytes(_png(8, 8))
    client, _ = make_app()
    events = client.get("/api/events?name=Alan+Turing").json()["events"]
    assert [e["name"] for e in events] == ["Alan Turing"] and events[0]["face_url"].startswith("/faces/")
    days = client.get("/api/events/summary").json()["days"]
    assert {(d["name"], d["sightings"]) for d in days} == {("Ada Lovelace", 2), ("Alan Turing", 1)}
    people = client.get("/api/people").json()["people"]
    assert people == [{"name": "Ada Lovelace", "photos": 1, "in_model": "no", "enrolled": people[0]["enrolled"],
                       "updated": people[0]["updated"]}]


class _FakeRecognizer:
    def __init__(self) -> None:
        self.shapes = []

    def recognize(self, image):
        self.shapes.append(image.shape)
        return [{"box": [1.0, 2.0, 3.0, 4.0], "name": "unknown", "confidence": 0.1, "score": 0.99}]


def test_recognize_takes_multipart_or_a_raw_body_and_builds_the_recogniser_once(make_app):
    fake = _FakeRecognizer()
    built = []
    client, _ = make_app(recognizer_factory=lambda config: built.append(1) or fake)
    by_form = client.post("/api/recognize", files={"image": ("a.png", _png(64, 48), "image/png")})
    raw = client.post("/api/recognize", content=_png(32, 16), headers={"Content-Type": "image/png"})
    assert by_form.status_code == 200 and raw.status_code == 200, (by_form.text, raw.text)
    assert by_form.json()["faces"][0]["name"] == "unknown" and (by_form.json()["width"], by_form.json()["height"]) == (64, 48)
    assert fake.shapes == [(48, 64, 3), (16, 32, 3)] and built == [1]


def test_recognize_refuses_oversized_uploads_bombs_and_non_images_with_the_right_status(make_app):
    fake = _FakeRecognizer()
    client, _ = make_app("web.max_upload_mb=0.01", "web.max_pixels=10000", recognizer_factory=lambda config: fake)
    big = client.post("/api/recognize", content=b"\xff" * 20_000)
    assert big.status_code == 413 and "web.max_upload_mb" in big.json()["error"]
    bomb = client.post("/api/recognize", content=_png(200, 200))  # a small file of too many pixels
    assert bomb.status_code == 413 and "pixels" in bomb.json()["error"]
    junk = client.post("/api/recognize", content=b"not an image at all")
    assert junk.status_code == 400 and "not an image" in junk.json()["error"]
    wrong_field = client.post("/api/recognize", files={"photo": ("a.png", _png(8, 8), "image/png")})
    assert wrong_field.status_code == 400 and "'image'" in wrong_field.json()["error"]
    assert fake.shapes == []


def test_a_real_decompression_bomb_is_refused_before_decoding(make_app):
    import zlib

    client, _ = make_app(recognizer_factory=lambda config: _FakeRecognizer())
    # a PNG header claiming 100000 x 100000 pixels: 10 gigapixels in a few hundred bytes
    import struct

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + chunk(
        b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    response = client.post("/api/recognize", content=png)
    assert response.status_code == 413 and "pixels" in response.json()["error"]


def test_the_people_pages_and_api_recognize_share_one_detector_and_one_backbone(make_app, monkeypatch):
    """Each part was built once for /api/recognize and once again for the People and Review pages:
    two copies of the weights in one app. Builds counted on stand-ins (the subject is who builds,
    not the networks)."""
    from facecore import models as models_module
    from facecore import runtime
    from fakes import ColourDetector

    built = {"detector": 0, "backbone": 0}

    def detector(config, device="CPU:0"):
        built["detector"] += 1
        return ColourDetector(config.detector)

    def backbone(config):
        built["backbone"] += 1
        return type("Backbone", (), {"input_size": 8, "warm_up": lambda self, every_size=False: None})()

    monkeypatch.setattr(models_module, "runtime_detector", detector)
    monkeypatch.setattr(models_module, "runtime_backbone", backbone)
    monkeypatch.setattr(runtime, "runtime_backbone", backbone)
    client, context = make_app()
    answer = client.post("/api/recognize", content=_png(64, 48), headers={"Content-Type": "image/png"})
    assert answer.status_code == 200 and {f["name"] for f in answer.json()["faces"]} <= {"unknown"}, answer.text
    assert built == {"detector": 1, "backbone": 0}  # nobody enrolled: no backbone yet
    assert client.get("/people").status_code == 200
    desk = client.app.state.desk
    assert desk.detector() is context.recognizer().models.detector
    assert desk.models() is context.recognizer().models  # the desk's training needs the backbone: built into them
    assert built == {"detector": 1, "backbone": 1}
