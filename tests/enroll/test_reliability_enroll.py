"""Issue 6, enrollment side: ``face-enroll train`` over bad folders and every odd kind of image,
a single person, ``face-enroll remove``, the permissions of what enrollment and training
write, and capture while a live source reconnects.

The cases run through the real command: as a real process where its exit code and stderr
are the point, else as ``enroll.cli.main`` in this process with the session's prebuilt models
(building them costs ~10 s a call; nothing else differs).
"""

from __future__ import annotations

import os
import re
import shutil
import stat

import numpy as np
import pytest
from PIL import Image

from enroll.cli import main
from enroll.people import import_photos
from enroll.training import train
from facecore.bundle import Bundle, load_bundle, save_bundle
from helpers import BUNDLE_META, FACENET_H5, VIDEOS, copy_people, leftovers, lfw_people, need, run_command, small_tmpfs

A, B, OTHER, OUTSIDER = "Abdullah_Gul", "Amelie_Mauresmo", "Ann_Veneman", "Andy_Roddick"


def facenet_sets(cache) -> list[str]:
    return ["--set", "backbone.name=facenet", "--set", f"backbone.weights={FACENET_H5}",
            "--set", f"train.cache_dir={cache}"]


def skipped_lines(stderr: str) -> dict[str, str]:
    """``{file name: reason}`` from the ``skipped PATH: REASON`` lines of ``face-enroll train``."""
    found = re.findall(r"^skipped (\S+): (.+)$", stderr, re.M)
    return {os.path.basename(path): why for path, why in found}


def _rgb(path) -> Image.Image:
    return Image.open(path).convert("RGB")


def odd_images(folder, photos: list, other) -> dict[str, str]:
    """Write every odd kind of file into ``folder`` from ten photos of one person; returns
    ``{name: "ok" or the start of the reason it must be skipped for}``."""
    p = iter(photos)
    grey = np.asarray(_rgb(next(p)).convert("L"), np.uint16)
    Image.fromarray(grey * 257).save(folder / "deep16.png")  # 16-bit grey
    _rgb(next(p)).convert("L").save(folder / "grey.png")
    rgba = _rgb(next(p)).convert("RGBA")
    alpha = np.full(rgba.size[::-1], 255, np.uint8)
    alpha[:12], alpha[-12:] = 0, 0  # transparent bands
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(folder / "rgba.png")
    _rgb(next(p)).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(folder / "palette.png")
    sideways = _rgb(next(p)).rotate(90, expand=True)  # a quarter turn anticlockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: upright again
    sideways.save(folder / "exif_rotated.jpg", exif=exif)
    sideways.save(folder / "sideways.jpg")  # the control: the same pixels, no orientation tag
    _rgb(next(p)).resize((4800, 4800), Image.Resampling.BICUBIC).save(folder / "huge.jpg", quality=80)
    several = Image.new("RGB", (420, 250), (128, 128, 128))
    several.paste(_rgb(next(p)), (0, 0))
    several.paste(_rgb(other).resize((150, 150)), (265, 50))  # a smaller second face: not the subject
    several.save(folder / "several.jpg")
    shutil.copy(next(p), folder / "jpeg_named.png")  # wrong extension
    shutil.copy(next(p), folder / "UPPER.JPG")
    _rgb(next(p)).resize((12, 12)).save(folder / "tiny.png")
    good = photos[0].read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "not_image.jpg").write_text("this is not a photo\n")
    noise = np.random.default_rng(6).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "noise.png")
    ok = ["deep16.png", "grey.png", "rgba.png", "palette.png", "exif_rotated.jpg", "huge.jpg", "several.jpg",
          "jpeg_named.png", "UPPER.JPG"]
    return {**{name: "ok" for name in ok}, "sideways.jpg": "no face found", "tiny.png": "too small: 12x12 px",
            "noise.png": "no face found", "truncated.jpg": "cannot decode", "empty.jpg": "empty file",
            "not_image.jpg": "not an image"}


@pytest.mark.slow
def test_train_command_over_every_odd_image_hidden_files_and_escaping_links(tmp_path):
    """One real ``face-enroll train``: odd but good images are used, each bad one is named with
    its reason, and hidden files and links leading out of the data folder are not followed."""
    photos = lfw_people([A, B, OTHER, OUTSIDER], 0, 10)
    data = copy_people(tmp_path / "data", {B: photos[B][:3]})
    (data / A).mkdir()
    expected = odd_images(data / A, photos[A], photos[OTHER][0])
    outside = copy_people(tmp_path / "outside", {OUTSIDER: photos[OUTSIDER][:3]})
    (data / "linked_person").symlink_to(outside / OUTSIDER, target_is_directory=True)
    (data / A / "link_out.jpg").symlink_to(photos[OUTSIDER][3])
    shutil.copy(photos[B][3], data / A / ".hidden.jpg")
    (data / A / "notes.txt").write_text("taken in 2004\n")
    shutil.copytree(outside / OUTSIDER, data / ".hidden_person")
    cache, model = tmp_path / "cache", tmp_path / "model"

    result = run_command("enroll.cli", "train", "--data", str(data), "--model", str(model), "--quiet",
                         *facenet_sets(cache), timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    bad = {name: why for name, why in expected.items() if why != "ok"}
    skipped = skipped_lines(result.stderr)
    assert set(skipped) == set(bad), result.stderr
    for name, why in bad.items():
        assert skipped[name].startswith(why), (name, skipped[name])
    bundle = load_bundle(model)
    assert bundle.labels == [A, B]
    assert bundle.meta["people"] == {A: len(expected) - len(bad), B: 3}  # links and hidden files: not read
    assert f"people 2, images {len(expected) - len(bad) + 3}, skipped {len(bad)}" in result.stdout
    assert sorted(p.name for p in cache.iterdir()) == [A, B]


@pytest.mark.parametrize("make, words", [
    (lambda root: root / "none", "data folder not found: {data} (enroll someone with: face-enroll capture NAME)"),
    (lambda root: (root / "empty").mkdir() or root / "empty", "no person folders in {data}: expected {data}/<name>/*.jpg"),
    (lambda root: (root / "hid" / ".ann").mkdir(parents=True) or root / "hid",
     "no person folders in {data}: expected {data}/<name>/*.jpg"),
], ids=["missing", "empty", "only-hidden"])
def test_train_command_on_a_missing_or_empty_data_folder_is_one_line(tmp_path, make, words):
    data = make(tmp_path)
    result = run_command("enroll.cli", "train", "--data", str(data), "--model", str(tmp_path / "m"), timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == f"face-enroll: error: {words.format(data=data)}"
    assert not (tmp_path / "m").exists()


def test_train_command_with_a_person_without_usable_images_names_them_and_their_photos(tmp_path, prebuilt, capsys):
    data = copy_people(tmp_path / "data", lfw_people([A], 0, 3))
    (data / B).mkdir()
    (data / B / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(data / B / "black.png")
    code = main(["train", "--data", str(data), "--model", str(tmp_path / "m"), "--quiet", *facenet_sets(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and not (tmp_path / "m").exists()
    *skipped, last = err.splitlines()
    assert skipped == [f"skipped {data / B / 'black.png'}: no face found",  # named also when training stops
                       f"skipped {data / B / 'broken.jpg'}: cannot decode (Truncated File Read)"]
    assert last == (f"face-enroll: error: too few usable images (need 2 each): {B} (0, 2 skipped); "
                    f"add photos to {data}/<name>/ or remove the folder")


def test_train_command_with_a_single_person(tmp_path, prebuilt, capsys):
    """The centroid head handles one person (its threshold falls back to recognition.threshold);
    the softmax heads need two classes and say so, with the way out."""
    data = copy_people(tmp_path / "data", lfw_people([A], 0, 4))
    args = ["train", "--data", str(data), "--quiet", *facenet_sets(tmp_path / "c")]
    assert main([*args, "--model", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "people 1, images 4, skipped 0" in out and "from 0 impostor and 0 stranger scores" in out
    assert load_bundle(tmp_path / "m").labels == [A]
    for kind in ("linear", "mlp"):
        assert main([*args, "--model", str(tmp_path / kind), "--set", f"head.kind={kind}"]) == 1
        err = capsys.readouterr().err.strip()
        assert err == (f"face-enroll: error: head '{kind}' needs at least 2 people; "
                       f"enroll another or use head.kind=centroid")
        assert not (tmp_path / kind).exists()


def _modes(root) -> dict[str, str]:
    """``{path relative to root: octal permission bits}`` for everything under ``root``."""
    return {str(p.relative_to(root)): oct(stat.S_IMODE(p.stat().st_mode)) for p in [root, *root.rglob("*")]}


def test_enrollment_and_training_write_owner_only_folders_and_files(tmp_path, facenet_config, facenet_models):
    """Faces, cached features and the bundle are biometric data: folders 0700, files 0600."""
    stills = need(VIDEOS / "obama-biden" / "enroll")  # LFW faces are too small for the capture gate
    data, cache, model = tmp_path / "data" / "people", tmp_path / "data" / "cache", tmp_path / "models" / "current"
    config = facenet_config.replace(train={"cache_dir": str(cache), "min_images": 2})
    imported = import_photos(config, "biden", [stills / "biden"], data, facenet_models.detector, relax=True)
    assert len(imported.saved) == 2, imported.rejected
    copy_people(data, {"obama": sorted((stills / "obama").glob("*.jpg"))})  # copied in by hand: the user's folder
    os.chmod(data / "obama", 0o700), [os.chmod(p, 0o600) for p in (data / "obama").iterdir()]
    train(config, data, model, models=facenet_models, progress=False)
    for root in (data, cache / "biden", cache / "obama", model):
        for path, mode in _modes(root).items():
            expected = "0o700" if (root / path).is_dir() else "0o600"
            assert mode == expected, f"{root / path}: {mode}"
    assert _modes(model.parent)["."] == "0o700"


def test_the_feature_cache_root_is_owner_only(tmp_path, facenet_config, facenet_models):
    cache = tmp_path / "cache"
    data = copy_people(tmp_path / "people", lfw_people([A, B], 0, 2))
    config = facenet_config.replace(train={"cache_dir": str(cache)})
    train(config, data, tmp_path / "model", models=facenet_models, progress=False)
    assert oct(stat.S_IMODE(cache.stat().st_mode)) == "0o700"


def test_remove_command_leaves_no_file_of_the_person_and_retrains(tmp_path, facenet_config, facenet_models,
                                                                  monkeypatch, capsys):
    """``face-enroll remove NAME`` (the command, with the session's models for its retraining):
    afterwards no file under the data, cache or model folders is named for the person or
    holds their name, and the bundle knows only the others."""
    monkeypatch.setattr("facecore.backbones.build_backbone", lambda *args, **kw: facenet_models.backbone)
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: facenet_models.detector)
    gone, kept = "Britney_Spears", [A, B]
    data = copy_people(tmp_path / "data" / "people", lfw_people([gone, *kept], 0, 3))
    cache, model = tmp_path / "data" / "cache", tmp_path / "models" / "current"
    config = facenet_config.replace(train={"cache_dir": str(cache)})
    train(config, data, model, models=facenet_models, progress=False)
    assert any(gone in str(p) for p in tmp_path.rglob("*")) and gone in (model / "labels.json").read_text()
    code = main(["remove", gone, "--data", str(data), "--model", str(model), *facenet_sets(cache)])
    out = capsys.readouterr().out
    assert code == 0 and f"removed {gone}: 3 files and their cached features" in out and "retrained" in out
    for path in tmp_path.rglob("*"):
        assert gone not in str(path)
        assert not path.is_file() or gone.encode() not in path.read_bytes(), path
    assert load_bundle(model).labels == kept


def test_capture_judges_each_frame_once_while_a_live_source_reconnects():
    """``Camera`` gives a live source's last frame again while it reconnects (so that windows stay
    drawn): capture must not judge, count or save that frame twice. Frames are injected."""
    from enroll.capture import CaptureResult, _loop
    from facecore.camera import Frame

    class Reconnecting(list):
        status = "source lost, reconnecting (1/5)"

    class Session:
        def __init__(self):
            self.result, self.seen = CaptureResult(wanted=10), []
            self.gate = type("Gate", (), {"too_soon": staticmethod(lambda t: False)})()

        def step(self, frame, look, manual):
            self.seen.append(frame.index)

    image = np.zeros((8, 8, 3), np.uint8)
    frames = Reconnecting(Frame(i, image, i / 30) for i in (0, 1, 1, 1, 2, 3, 3))
    session = Session()
    _loop(frames, session, None)
    assert session.seen == [0, 1, 2, 3]


@pytest.mark.parametrize("full", ["cache", "model"])
def test_train_command_on_a_full_disk_names_the_path_and_leaves_no_temporary_files(tmp_path, prebuilt, capsys, full):
    """The feature cache or the bundle on a small tmpfs that fills up: exit 1, one line naming
    what could not be written, no temporary file or folder; a previous bundle is kept."""
    data = copy_people(tmp_path / "data", lfw_people([A, B, OTHER], 0, 4))
    with small_tmpfs(tmp_path / "full", "12k" if full == "cache" else "24k") as disk:
        cache = disk / "cache" if full == "cache" else tmp_path / "cache"
        model = disk / "current" if full == "model" else tmp_path / "current"
        if full == "model":
            save_bundle(model, Bundle({"centroids": np.eye(2, dtype=np.float32)}, [A, B], BUNDLE_META))
        code = main(["train", "--data", str(data), "--model", str(model), "--quiet", *facenet_sets(cache)])
        err = capsys.readouterr().err.strip()
        assert code == 1
        path = re.escape(str(cache if full == "cache" else model))
        assert re.fullmatch(rf"face-enroll: error: cannot write {path}\S*: No space left on device", err), err
        assert leftovers(tmp_path) == []
        if full == "model":
            assert load_bundle(model).labels == [A, B]
        else:
            assert not model.exists()
