"""``face-enroll train`` names every photo it leaves out and why (no face, unreadable, too small),
also when it then stops for too few photos; photos that are tight face crops (MTCNN finds no
face in them) are told apart and the setting that uses them whole is named.

Run as ``enroll.cli.main`` in this process with the session's prebuilt models (``prebuilt``).
The crops are real LFW photos cut, by the test, to the inside of the face box MTCNN finds.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from enroll.cli import main
from facecore.features import NO_FACE, TIGHT_CROP
from facecore.images import read_image
from helpers import FACENET_H5, copy_people, lfw_people

CROPPED = ["Abdullah_Gul", "Alejandro_Toledo"]  # their first photo, cut tight, has no face MTCNN finds
WHOLE = ["Amelie_Mauresmo", "Andy_Roddick", "Ann_Veneman", "Arnold_Schwarzenegger"]


def tight_crop(photo, dest, detector) -> None:
    """Write the inner 80 % of the face box of ``photo`` to ``dest`` (MTCNN must miss the face there)."""
    image = read_image(photo)
    x1, y1, x2, y2 = detector.detect(image).boxes[0]
    dx, dy = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    crop = np.ascontiguousarray(image[round(y1 + dy):round(y2 - dy), round(x1 + dx):round(x2 - dx)])
    assert len(detector.detect(crop)) == 0, f"MTCNN finds the face in the crop of {photo.name}"
    Image.fromarray(crop).save(dest, quality=95)


def train_args(data, model, cache, *sets) -> list[str]:
    settings = ["backbone.name=facenet", f"backbone.weights={FACENET_H5}", f"train.cache_dir={cache}", *sets]
    return ["train", "--data", str(data), "--model", str(model), "--quiet",
            *[arg for s in settings for arg in ("--set", s)]]


def skipped_reasons(err: str) -> dict[str, str]:
    """``{person/file: reason}`` from the ``skipped PATH: REASON`` lines."""
    found = re.findall(r"^skipped (\S+): (.+)$", err, re.M)
    return {"/".join(path.split("/")[-2:]): why for path, why in found}


@pytest.fixture
def one_photo_each(tmp_path, prebuilt):
    """Six people with one photo each; the photos of the two in ``CROPPED`` are tight face crops."""
    photos = lfw_people(CROPPED + WHOLE, 0, 1)
    data = copy_people(tmp_path / "data", {name: photos[name] for name in WHOLE})
    for name in CROPPED:
        (data / name).mkdir()
        tight_crop(photos[name][0], data / name / "face.jpg", prebuilt.detector)
    return data


def test_stopping_for_too_few_photos_names_the_tight_crops_and_the_setting(one_photo_each, tmp_path, capsys):
    data, model = one_photo_each, tmp_path / "model"
    code = main(train_args(data, model, tmp_path / "cache", "train.min_images=1"))
    err = capsys.readouterr().err.strip()
    assert code == 1 and not model.exists()
    *lines, last = err.splitlines()
    assert skipped_reasons(err) == {f"{name}/face.jpg": TIGHT_CROP for name in CROPPED}
    assert len(lines) == 2  # nothing but the photos left out, before the one error line
    assert last == (f"face-enroll: error: too few usable images (need 1 each): {CROPPED[0]} (0, 1 skipped), "
                    f"{CROPPED[1]} (0, 1 skipped); 2 of their photos look like tight face crops: use them whole "
                    f"with --set train.no_face=whole; or add photos to {data}/<name>/ or remove the folder")

    code = main(train_args(data, model, tmp_path / "cache", "train.min_images=1", "train.no_face=whole"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "skipped" not in captured.err and "people 6, images 6, skipped 0" in captured.out


def test_training_that_goes_on_names_each_skipped_photo_with_its_reason_also_from_the_cache(
        tmp_path, capsys, prebuilt, monkeypatch):
    """Beside three good photos of each of three people: a tight crop, a photo of no face (noise),
    a photo too small to hold a face and a file that is no image, each named with its own reason
    (only the crop is called a crop), then the setting for crops. A second run gives the same
    lines from the cache, without detecting anything."""
    data = copy_people(tmp_path / "data", lfw_people(WHOLE[:3], 0, 3))
    person = data / WHOLE[0]
    extra = lfw_people([WHOLE[0]], 3, 5)[WHOLE[0]]
    tight_crop(extra[0], person / "crop.jpg", prebuilt.detector)
    noise = np.random.default_rng(6).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(person / "noise.png")
    Image.open(extra[1]).resize((16, 16)).save(person / "tiny.png")
    (person / "notes.jpg").write_text("not a photo\n")
    expected = {
        f"{WHOLE[0]}/crop.jpg": TIGHT_CROP,
        f"{WHOLE[0]}/noise.png": NO_FACE,
        f"{WHOLE[0]}/tiny.png": "too small: 16x16 px, smaller than the smallest face searched for, 20 px "
                                "(detector.min_face_size)",
        f"{WHOLE[0]}/notes.jpg": "not an image, or a format that cannot be read",
    }
    hint = "skipped photos that look like tight face crops: 1; to use them whole, --set train.no_face=whole"
    calls = []
    detect = prebuilt.detector.detect
    monkeypatch.setattr(prebuilt.detector, "detect", lambda image: calls.append(1) or detect(image))
    for run in ("computed", "cached"):
        calls.clear()
        code = main(train_args(data, tmp_path / run, tmp_path / "cache"))
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert skipped_reasons(captured.err) == expected, run
        assert captured.err.strip().splitlines()[-1] == hint
        assert "people 3, images 9, skipped 4" in captured.out
        assert len(calls) == (13 if run == "computed" else 0), run  # 9 photos, then crop and noise twice each
