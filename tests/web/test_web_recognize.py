"""POST /api/recognize with the real models (MTCNN, facenet, a bundle of Biden and Obama): every
face with its box, name and confidence; a stranger is unknown."""

from __future__ import annotations

import pytest

from facecore.images import list_images

from helpers import DATA, FACENET_H5, VIDEOS, need


@pytest.mark.slow
def test_recognize_names_biden_and_calls_a_stranger_unknown(make_app, biden_bundle, facenet_models):
    from web.recognition import ImageRecognizer

    overrides = ("backbone.name=facenet", f"backbone.weights={FACENET_H5}", f"train.model={biden_bundle}")

    client, _ = make_app(*overrides, recognizer_factory=lambda config: ImageRecognizer.build(config, facenet_models))
    photo = need(VIDEOS / "obama-biden" / "enroll" / "biden" / "biden2.jpg").read_bytes()
    answer = client.post("/api/recognize", files={"image": ("biden2.jpg", photo, "image/jpeg")})
    assert answer.status_code == 200, answer.text
    faces = answer.json()["faces"]
    assert [f["name"] for f in faces] == ["biden"] and faces[0]["confidence"] > 0.5
    x1, y1, x2, y2 = faces[0]["box"]
    assert 0 <= x1 < x2 <= answer.json()["width"] and 0 <= y1 < y2 <= answer.json()["height"]
    strangers = list_images(need(DATA / "unknown-dev" / "lfw"), recursive=True)[:5]
    names = [f["name"] for p in strangers for f in client.post("/api/recognize", content=p.read_bytes()).json()["faces"]]
    assert names and names.count("unknown") >= len(names) - 1  # at most one false accept in five strangers


RECOGNIZE_WITHOUT_TF = """
import sys
from facecore.config import load_config
from facecore.images import read_image
from web.recognition import ImageRecognizer

config = load_config(None, ["recognition.runtime=litert", "train.model=" + sys.argv[1]])
faces = ImageRecognizer.build(config).recognize(read_image(sys.argv[2]))
print(len(faces), sorted({f["name"] for f in faces}))
print(sorted(m for m in ("tensorflow", "keras", "mtcnn") if m in sys.modules))
"""


@pytest.mark.slow
def test_on_litert_the_api_recognizer_is_built_without_importing_tensorflow(tmp_path):
    """face-web's /api/recognize on a CPU: with the networks converted, nothing imports TensorFlow."""
    import os
    import subprocess
    import sys

    from facecore.litert.mtcnn import converted_networks
    from helpers import REPO

    home = tmp_path / "home"
    converted_networks(home / "weights" / "litert")  # where FACECAM_HOME's converted models are looked for
    photo = need(VIDEOS / "obama-biden" / "enroll" / "biden" / "biden2.jpg")
    env = {**os.environ, "PYTHONPATH": str(REPO), "FACECAM_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", RECOGNIZE_WITHOUT_TF, str(tmp_path / "no-model"), str(photo)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found, imported = done.stdout.strip().splitlines()
    assert found == "1 ['unknown']" and imported == "[]", done.stdout
