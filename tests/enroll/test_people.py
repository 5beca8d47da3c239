"""Names, ``face-enroll import``, ``list`` and ``remove`` on real photos."""

from __future__ import annotations

import os
import re
import shutil
import time
import unicodedata

import cv2
import numpy as np
import pytest

from enroll.cli import main
from enroll.people import import_photos, list_people, next_number, person_folder
from enroll.removal import remove_person
from enroll.training import train
from facecore.bundle import load_bundle
from facecore.errors import UsageError
from facecore.people import validate_name
from facecore.images import list_images, read_image
from helpers import VIDEOS, copy_people, leftovers, lfw_people, need, run_command, small_tmpfs

STILLS = VIDEOS / "obama-biden" / "enroll"


def _tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


JOSE_NFC = unicodedata.normalize("NFC", "José Müller")
JOSE_NFD = unicodedata.normalize("NFD", "José Müller")


@pytest.mark.parametrize("name", [
    "", "  ", "../evil", "a/b", "..", ".hidden", "bell\x07", "tab\tname", "Biden",
    "unknown", "Unknown", "UNKNOWN", "…", "...", JOSE_NFD.upper(), "josé müller",
])
def test_bad_names_exit_2_and_write_nothing(tmp_path, capsys, name):
    data = tmp_path / "people"
    (data / "biden").mkdir(parents=True)  # "Biden" differs from this one only by case
    (data / JOSE_NFC).mkdir()  # ... and so do the upper-case NFD and lower-case forms of this one
    before = _tree(tmp_path)
    assert main(["capture", name, "--source", str(tmp_path / "missing.mp4"), "--headless", "--data", str(data)]) == 2
    assert main(["import", name, str(tmp_path), "--data", str(data)]) == 2
    assert _tree(tmp_path) == before
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("face-enroll: error: ") for line in err)


def test_unicode_names_with_spaces_are_fine(tmp_path):
    folder = person_folder(tmp_path / "people", "José Ñúñez Ødegaard", create=True)
    assert folder.is_dir() and folder.name == "José Ñúñez Ødegaard"
    assert oct(folder.stat().st_mode & 0o777) == oct(folder.parent.stat().st_mode & 0o777) == "0o700"
    (folder / "0009.jpg").touch()
    (folder / "frames").mkdir()
    (folder / "frames" / "0012.jpg").touch()
    assert next_number(folder) == 13


def test_reserved_names_say_why():
    for name in ("unknown", "UNKNOWN", "…", "..."):
        with pytest.raises(UsageError, match=r"is reserved: face-live shows 'unknown' for strangers and '…'"):
            validate_name(name)


def test_a_name_in_another_unicode_form_is_the_same_person(tmp_path):
    assert JOSE_NFC != JOSE_NFD and len(JOSE_NFD) > len(JOSE_NFC)
    data = tmp_path / "people"
    assert person_folder(data, JOSE_NFD, create=True) == data / JOSE_NFC  # created in NFC
    assert person_folder(data, JOSE_NFD) == person_folder(data, JOSE_NFC) == data / JOSE_NFC
    assert os.listdir(data) == [JOSE_NFC]
    by_hand = tmp_path / "other"
    (by_hand / JOSE_NFD).mkdir(parents=True)  # a folder made by hand in NFD: that folder is the person's
    assert person_folder(by_hand, JOSE_NFC) == by_hand / JOSE_NFD
    with pytest.raises(UsageError, match="only by case"):
        person_folder(by_hand, JOSE_NFC.upper())


def test_import_under_a_name_in_another_unicode_form_adds_to_the_same_folder(tmp_path, capsys, monkeypatch,
                                                                             detector):
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: detector)
    data = tmp_path / "people"
    photos = sorted(need(STILLS / "obama").glob("*.jpg")) + sorted((STILLS / "biden").glob("*.jpg"))
    args = ["--relax", "--no-train", "--data", str(data)]
    assert main(["import", JOSE_NFD, str(photos[0]), *args]) == 0
    assert os.listdir(data) == [JOSE_NFC]
    assert main(["import", JOSE_NFC, str(photos[1]), *args]) == 0
    assert main(["import", JOSE_NFD, str(photos[2]), *args]) == 0
    assert os.listdir(data) == [JOSE_NFC]
    assert [p.name for p in list_images(data / JOSE_NFC)] == ["0001.jpg", "0002.jpg", "0003.jpg"]
    out = capsys.readouterr().out
    assert out.count(f"imported 1 of 1 photos of {JOSE_NFC} into {data / JOSE_NFC}") == 3
    assert JOSE_NFD not in out


def test_bad_name_in_a_real_process_exits_2(tmp_path):
    proc = run_command("enroll.cli", "capture", "../outside", "--headless", "--data", str(tmp_path / "p"), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "face-enroll: error: name '../outside' must not contain path separators"
    assert not (tmp_path / "p").exists() and not (tmp_path / "outside").exists()


def _photos(tmp_path):
    """Two good photos, a copy of one, a faceless image, a truncated JPEG and a text file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    good = sorted(need(STILLS / "biden").glob("*.jpg"))
    for path in good:
        shutil.copy(path, folder / path.name)
    shutil.copy(good[0], folder / "copy-of-biden.jpg")  # sorted after the original
    photo = good[1].read_bytes()
    (folder / "truncated.jpg").write_bytes(photo[: len(photo) // 3])
    (folder / "notes.jpg").write_text("not a photo at all\n")
    cv2.imwrite(str(folder / "wall.png"), np.full((300, 400, 3), (60, 120, 180), np.uint8))
    return folder


def test_import_keeps_good_photos_and_says_why_others_were_rejected(tmp_path, capsys, detector, facenet_config):
    photos, data = _photos(tmp_path), tmp_path / "people"
    result = import_photos(facenet_config, "biden", [photos], data, detector, relax=True)
    assert [p.name for p in result.saved] == ["0001.jpg", "0002.jpg"]
    why = {path.name: reason for path, reason in result.rejected}
    assert set(why) == {"copy-of-biden.jpg", "truncated.jpg", "notes.jpg", "wall.png"}
    assert why["copy-of-biden.jpg"].startswith("near-duplicate: similarity 1.00 to a kept photo")
    assert why["wall.png"] == "no face found"
    assert why["notes.jpg"].startswith("unreadable: not an image")
    assert why["truncated.jpg"].startswith("unreadable: cannot decode")
    for path in result.saved:
        assert len(detector.detect(read_image(path))) == 1

    # the command: same gate, a per-photo report, numbering continues, exit 1 when nothing passes
    args = ["import", "biden", str(photos / "wall.png"), str(photos / "notes.jpg"), "--relax", "--no-train",
            "--data", str(data)]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert "rejected" in out and "wall.png: no face" in out and "imported 0 of 2 photos of biden" in out
    assert err.strip().endswith("no photo of biden passed the quality gate: nothing imported")
    assert main(["import", "biden", str(need(STILLS / "obama" / "obama.jpg")), "--relax", "--no-train",
                 "--data", str(data)]) == 0
    assert [p.name for p in list_images(data / "biden")] == ["0001.jpg", "0002.jpg", "0003.jpg"]
    with pytest.raises(UsageError):
        import_photos(facenet_config, "biden", [tmp_path / "nope.jpg"], data, detector)


def test_import_says_what_is_wrong_with_a_photo(tmp_path, capsys, monkeypatch, detector):
    """Photos get photo wording (the measure, the limit, the setting), not "come closer"."""
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: detector)
    small = lfw_people(["Ann_Veneman"], 0, 1)["Ann_Veneman"][0]  # a 250x250 photo: the face is about 57 px
    args = ["import", "ann", str(small), "--relax", "--no-train", "--data", str(tmp_path / "people")]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert re.search(rf"^rejected {re.escape(str(small))}: face too small: \d+ px, needs 80 \(capture.min_face_px\)$",
                     out, re.M), out
    assert re.search(r"^rejected, by reason:\n  face too small  1$", out, re.M), out
    assert "come closer" not in out and "imported 0 of 1 photos of ann" in out
    assert not (tmp_path / "people" / "ann").exists()


def test_an_import_refused_for_size_alone_says_the_setting_that_takes_the_photos(tmp_path, capsys, monkeypatch,
                                                                                  detector):
    """Real LFW photos (faces under the default 80 px): the printed --set takes every photo the
    hint counted, and the command with it imports them."""
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: detector)
    photos = [str(p) for p in lfw_people(["Winona_Ryder"], 0, 4)["Winona_Ryder"]]
    data = str(tmp_path / "people")
    assert main(["import", "Winona Ryder", *photos, "--no-train", "--data", data]) == 1
    out = capsys.readouterr().out
    found = re.search(r"^(\d+) photos? refused only for size \(faces of \d+ to \d+ px\): import again with "
                      r"--set capture.min_face_px=(\d+) to take (?:it|(\d+) of them)", out, re.M)
    assert found, out
    refused, setting = int(found.group(1)), found.group(2)
    taken = int(found.group(3) or 1)
    assert refused == out.count("face too small: ") and 0 < taken <= refused
    assert "The cost: the vgg16 backbone looks at faces scaled to 224 px" in out
    assert main(["import", "Winona Ryder", *photos, "--no-train", "--data", data,
                 "--set", f"capture.min_face_px={setting}"]) == 0
    out = capsys.readouterr().out
    assert "face too small" not in out and "refused only for size" not in out
    assert len(list_images(tmp_path / "people" / "Winona Ryder")) >= 1


def _four_stills() -> list[str]:
    return [str(p) for who in ("biden", "obama") for p in sorted(need(STILLS / who).glob("*.jpg"))]


def test_import_on_a_full_disk_names_the_file_and_still_says_what_was_imported(tmp_path, capsys, monkeypatch,
                                                                               detector):
    monkeypatch.setattr("enroll.people_cli._detector", lambda config: detector)
    with small_tmpfs(tmp_path / "disk", "100k") as disk:  # room for two saved images (35-45 kB each)
        data = disk / "people"
        assert main(["import", "x", *_four_stills(), "--relax", "--no-train", "--data", str(data)]) == 1
        out, err = capsys.readouterr()
        assert out.splitlines()[-1] == f"imported 2 of 4 photos of x into {data / 'x'}"
        assert err.strip() == f"face-enroll: error: cannot write {data / 'x' / '0003.jpg'}: No space left on device"
        assert [p.name for p in list_images(data / "x")] == ["0001.jpg", "0002.jpg"]
        assert all(read_image(p).shape == (320, 320, 3) for p in list_images(data / "x"))
        assert leftovers(disk) == []


def test_an_import_stopped_part_way_says_what_was_imported(tmp_path, capsys, monkeypatch, detector):
    """SIGTERM (here raised where the second image is written) ends the import with its summary."""
    from enroll import people
    from facecore.app import Terminated

    monkeypatch.setattr("enroll.people_cli._detector", lambda config: detector)
    calls = []

    def write_then_stop(path, data, **kw):
        calls.append(path)
        if len(calls) == 2:
            raise Terminated()
        return write(path, data, **kw)

    write = people.write_private
    monkeypatch.setattr(people, "write_private", write_then_stop)
    data = tmp_path / "people"
    assert main(["import", "x", *_four_stills(), "--relax", "--no-train", "--data", str(data)]) == 143
    out, err = capsys.readouterr()
    assert f"imported 1 of 4 photos of x into {data / 'x'}" in out
    assert err.strip() == "face-enroll: terminated"
    assert [p.name for p in list_images(data / "x")] == ["0001.jpg"] and leftovers(tmp_path) == []


@pytest.fixture
def enrolled(tmp_path, facenet_config, facenet_models):
    """Three LFW people (4 photos each) in tmp data, trained with facenet, cache in tmp."""
    config = facenet_config.replace(train={"cache_dir": str(tmp_path / "cache")})
    data = copy_people(tmp_path / "people", lfw_people(3, last=4))
    model = tmp_path / "model"
    train(config, data, model, models=facenet_models, progress=False)
    return config, data, model


def test_list_shows_counts_dates_and_whether_the_model_knows_them(enrolled, capsys):
    config, data, model = enrolled
    first, second, third = sorted(p.name for p in data.iterdir())
    shutil.copytree(data / first, data / "Newcomer")
    extra = data / second / "0099.jpg"
    shutil.copy(next((data / second).glob("*.jpg")), extra)
    later = time.time() + 30
    os.utime(extra, (later, later))
    state = {p.name: (p.images, p.in_bundle) for p in list_people(data, model)}
    assert state == {first: (4, "yes"), second: (5, "outdated"), third: (4, "yes"), "Newcomer": (4, "no")}
    assert main(["list", "--data", str(data), "--model", str(model)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["person", "images", "enrolled", "last", "added", "in", "model"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["Newcomer"][1] == "4" and rows["Newcomer"][-1] == "no" and rows[second][-1] == "outdated"
    assert main(["list", "--data", str(data / "none")]) == 0
    assert "nobody is enrolled" in capsys.readouterr().out


def test_list_aligns_wide_names_by_display_width_in_a_pipe(tmp_path):
    from rich.cells import cell_len

    data = tmp_path / "people"
    for name, count in (("王小明", 3), ("Ann", 12), (JOSE_NFC, 1)):
        (data / name).mkdir(parents=True)
        for i in range(count):
            (data / name / f"{i:04d}.jpg").write_bytes(b"")
    done = run_command("enroll.cli", "list", "--data", str(data), "--model", str(tmp_path / "none"), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["person", "Ann", JOSE_NFC.split()[0], "王小明"]
    # in every row the date and the model state start at the header's screen columns
    for header, cell, find in (("enrolled", "20", str.index), ("in model", "no", str.rindex)):
        starts = {cell_len(line[: find(line, word)]) for line, word in zip(lines, [header, cell, cell, cell])}
        assert len(starts) == 1, (header, done.stdout)


def test_remove_leaves_nothing_of_the_person_and_retrains(enrolled, facenet_models, capsys):
    config, data, model = enrolled
    gone, *kept = sorted(p.name for p in data.iterdir())
    assert any(gone in str(p) for p in (data.parent / "cache").rglob("*"))

    def retrain():
        train(config, data, model, models=facenet_models, progress=False)

    result = remove_person(config, gone, data, model, retrain)
    assert result.removed_files == 4 and result.bundle == "retrained"
    for path in data.parent.rglob("*"):  # data, cache and bundle: no file named for them, none naming them
        assert gone not in str(path)
        assert not path.is_file() or gone.encode() not in path.read_bytes(), path
    assert load_bundle(model).labels == kept
    assert main(["remove", gone.lower(), "--data", str(data), "--model", str(model)]) == 2
    assert "nobody named" in capsys.readouterr().err
    for name in kept:
        remove_person(config, name, data, model, retrain)
    assert not model.exists() and list(data.iterdir()) == []  # nobody left: the bundle is gone too
