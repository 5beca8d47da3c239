"""Forgetting a person for good: one name in two Unicode spellings is one person for train, list
and remove; `remove --everywhere` takes damaged records that mention them and says what still
does; reserved names are refused; stopped or failing removes say what became of the person;
an import of a folder of several people's folders is refused.

No model: bundles and face records are written by hand, retraining is replaced by a stub
where a command would retrain (these tests are about what is deleted and said, not training).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import unicodedata
from contextlib import closing

import numpy as np
import pytest

from enroll.cli import main
from facecore.app import Terminated
from facecore.bundle import Bundle, load_bundle, save_bundle
from facecore.csvlog import CsvLog, read_log
from facecore.facestore import FaceStore, StoredFace, new_face_id
from facecore.traces import mentions
from helpers import BUNDLE_META

NFC, NFD = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
JPEG = b"\xff\xd8\xff\xe0 not a real picture \xff\xd9"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """An empty workspace as the current folder; retraining is a stub that records its calls."""
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr("enroll.people_cli._retrain", lambda *args, **kw: calls.append(args))
    return tmp_path


def _person(root, name: str, photos: int = 2) -> None:
    folder = root / "data" / "people" / name
    folder.mkdir(parents=True)
    for i in range(photos):
        (folder / f"{i + 1:04d}.jpg").write_bytes(JPEG)
    cache = root / "data" / "cache" / name
    cache.mkdir(parents=True)
    (cache / "feat.npy").write_bytes(b"x")


def _bundle(root, labels: list[str]) -> None:
    centroids = np.eye(len(labels), 4, dtype=np.float32)
    save_bundle(root / "models" / "current", Bundle({"centroids": centroids}, labels, dict(BUNDLE_META)))


def _face(store: FaceStore, name: str, **changes) -> str:
    face = StoredFace(new_face_id(__import__("datetime").datetime.now().astimezone()),
                      "2026-12-01T10:00:00+00:00", "cam", 1, 1, name, features=np.ones(4, np.float32))
    store.add(face, JPEG)
    if changes:
        record = json.loads(store._record_path(face.id).read_bytes())
        record.update(changes)
        store._record_path(face.id).write_text(json.dumps(record))
    return face.id


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- one name, two spellings -------------------------------------------------------------------

def test_train_refuses_two_spellings_of_one_name_naming_both_folders(ws, capsys):
    _person(ws, NFC)
    _person(ws, NFD)
    code, _, err = _run(capsys, "train", "--quiet")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "data/people/Jose\\u0301" in err and f"'data/people/{NFC}'" in err and "one person" in err


def test_list_shows_two_spellings_as_one_person(ws, capsys):
    _person(ws, NFC, 2)
    _person(ws, NFD, 3)
    _person(ws, "Ann", 2)
    code, out, _ = _run(capsys, "list")
    rows = [line for line in out.splitlines()[1:] if line.strip() and not set(line.strip()) <= set("-")]
    assert code == 0 and len(rows) == 2, out
    assert any("José" in row and "5" in row and "2 folders" in row for row in rows), out


def test_remove_deletes_every_spelling_their_caches_and_their_rows_in_the_bundle(ws, capsys):
    _person(ws, NFC)
    _person(ws, NFD)
    _person(ws, "Ann")
    (ws / "data" / "cache" / unicodedata.normalize("NFD", "JOSÉ")).mkdir()  # a cache left by a third spelling
    _bundle(ws, [NFC, NFD, "Ann"])
    code, out, err = _run(capsys, "remove", NFD)
    assert code == 0, err
    assert sorted(os.listdir(ws / "data" / "people")) == ["Ann"]
    assert sorted(os.listdir(ws / "data" / "cache")) == ["Ann"]
    assert load_bundle(ws / "models" / "current").labels == ["Ann"]
    assert "removed José: 4 files" in out


# -- damaged records ---------------------------------------------------------------------------

def test_everywhere_deletes_damaged_records_that_mention_the_name_or_are_not_json(ws, capsys):
    _person(ws, "Obama")
    _person(ws, "Ann")
    _bundle(ws, ["Ann", "Obama"])
    store = FaceStore(ws / "data" / "faces")
    named = _face(store, "Obama")
    bad_time = _face(store, "Obama", time="notatime")
    escaped = _face(store, "Ann", time="notatime")  # damaged, but names Ann: stays
    odd_box = _face(store, "Obama", box=None)  # a field of another type
    wholesale = _face(store, "Ann")
    store._record_path(wholesale).write_bytes(b"\x00garbage, not JSON")
    other = _face(store, "unknown", frame="x", source="cam-\u004fbama")  # damaged, mentions him (escaped below)
    raw = store._record_path(other).read_text().replace("Obama", "\\u004f\\u0062ama")
    store._record_path(other).write_text(raw)
    assert mentions(raw.encode(), "obama")
    code, out, err = _run(capsys, "remove", "Obama", "--everywhere")
    assert code == 0, err
    assert sorted(store.ids()) == [escaped]
    assert not any(store.image_path(i).exists() for i in (named, bad_time, odd_box, wholesale, other))
    assert "5 kept faces deleted (4 of them damaged records" in out, out


def test_everywhere_fails_naming_a_file_that_still_mentions_the_name(ws, capsys):
    _person(ws, "Obama")
    _person(ws, "Ann")
    _bundle(ws, ["Ann", "Obama"])
    (ws / "logs").mkdir()
    (ws / "logs" / "notes.txt").write_text("Barack OBAMA was here\n")
    (ws / "logs" / "other.txt").write_text("Obamacare and Joanna\n")  # not his name as a word
    code, out, err = _run(capsys, "remove", "Obama", "--everywhere")
    assert code == 1 and "forgot Obama everywhere" in out
    assert err.strip().endswith("Obama is still mentioned in 1 files: " + str(ws / "logs" / "notes.txt")), err


def test_everywhere_takes_another_persons_longer_name_for_no_trace(ws, capsys):
    """Removing Ann while Ann Smith stays enrolled and logged: exit 0, her rows and folders stay."""
    _person(ws, "Ann")
    _person(ws, "Ann Smith")
    _person(ws, "Bo")
    _bundle(ws, ["Ann", "Ann Smith", "Bo"])
    _log_rows(ws / "logs" / "recognitions.csv", "Ann", "Ann Smith")
    code, out, err = _run(capsys, "remove", "Ann", "--everywhere")
    assert code == 0, err
    assert [row["name"] for row in read_log(ws / "logs" / "recognitions.csv")] == ["Ann Smith"]
    assert sorted(os.listdir(ws / "data" / "people")) == ["Ann Smith", "Bo"]


@pytest.mark.parametrize("data, found", [
    (b'{"name": "Jos\\u00e9"}', True), (NFD.encode(), True), ("ＪＯＳÉ".encode(), True),
    (b"joseph", False), ("San José".encode(), True), (b"Jos\xc3", False)])
def test_a_name_is_found_in_any_form_as_a_whole_word(data, found):
    assert mentions(data, NFC) is found


# -- reserved names ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["unknown", "UNKNOWN", "Ｕｎｋｎｏｗｎ", "…"])
def test_remove_of_a_reserved_name_is_refused_even_everywhere(ws, capsys, name):
    store = FaceStore(ws / "data" / "faces")
    stranger = _face(store, "unknown")
    with CsvLog(ws / "logs" / "recognitions.csv") as log:
        log.append({"name": "unknown", "track": 1})
    code, _, err = _run(capsys, "remove", name, "--everywhere")
    assert code == 2 and "reserved" in err and "review --discard" in err, err
    assert store.ids() == [stranger] and len(read_log(ws / "logs" / "recognitions.csv")) == 1


def test_import_refuses_a_fullwidth_reserved_name(ws, capsys):
    code, _, err = _run(capsys, "import", "Ｕｎｋｎｏｗｎ", str(ws))
    assert code == 2 and "reserved" in err


# -- what became of them -----------------------------------------------------------------------

def test_remove_stopped_by_sigterm_while_retraining_says_what_became_of_the_bundle(ws, capsys, monkeypatch):
    _person(ws, "Obama")
    _person(ws, "Ann")
    _bundle(ws, ["Ann", "Obama"])

    def stopped(*args, **kw):
        raise Terminated()

    monkeypatch.setattr("enroll.people_cli._retrain", stopped)
    code, _, err = _run(capsys, "remove", "Obama")
    assert code == 143, err
    assert "Obama was taken out of the model bundle directly" in err and "2 files" in err
    assert "retraining was stopped" in err and "face-enroll train" in err
    assert load_bundle(ws / "models" / "current").labels == ["Ann"]


@pytest.fixture
def read_only_models(ws):
    """models/ mounted read-only over itself (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    _person(ws, "Obama")
    _person(ws, "Ann")
    _bundle(ws, ["Ann", "Obama"])
    models = ws / "models"
    done = subprocess.run(["mount", "--bind", str(models), str(models)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(models)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        yield models
    finally:
        subprocess.run(["umount", "-l", str(models)], capture_output=True)


def test_remove_in_a_read_only_workspace_says_the_person_is_still_enrolled(ws, capsys, read_only_models):
    code, out, err = _run(capsys, "remove", "Obama")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "Obama is still enrolled" in err and "none of their photos was deleted" in err, err
    assert "OSError" not in err and "PermissionError" not in err
    assert len(os.listdir(ws / "data" / "people" / "Obama")) == 2


def test_everywhere_for_someone_never_enrolled_and_never_seen_is_one_line_exit_2(ws, capsys):
    _person(ws, "Ann")
    code, out, err = _run(capsys, "remove", "Nobody", "--everywhere")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (out, err)
    assert "nobody named 'Nobody' is enrolled" in err and "nothing to forget" in err


def test_everywhere_for_someone_not_enrolled_but_logged_forgets_the_rows(ws, capsys):
    _person(ws, "Ann")
    with CsvLog(ws / "logs" / "recognitions.csv") as log:
        log.append({"name": "Nobody", "track": 1})
        log.append({"name": "Ann", "track": 2})
    code, out, err = _run(capsys, "remove", "Nobody", "--everywhere")
    assert code == 0 and err == "", err
    assert "nobody named Nobody is enrolled" in out and "forgot Nobody everywhere: 1 CSV log row in 1 log," in out
    assert [row["name"] for row in read_log(ws / "logs" / "recognitions.csv")] == ["Ann"]


def test_import_of_a_folder_of_several_peoples_folders_is_refused(ws, capsys):
    for who in ("ada", "bob"):
        (ws / "photos" / who).mkdir(parents=True)
        (ws / "photos" / who / "1.jpg").write_bytes(JPEG)
    code, out, err = _run(capsys, "import", "Ada", str(ws / "photos"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "'ada', 'bob'" in err and "one by one" in err and "train --data" in err
    assert not (ws / "data" / "people").exists()


# -- every log face-live wrote -----------------------------------------------------------------

def _log_rows(path, *names) -> None:
    with CsvLog(path) as log:
        for track, name in enumerate(names):
            log.append({"name": name, "track": track})


def test_everywhere_cleans_every_registered_log_and_given_ones_and_names_those_outside(ws, tmp_path_factory,
                                                                                      capsys):
    from facecore.outputs import record_outputs

    _person(ws, "Joe Biden")
    _person(ws, "Ann")
    _bundle(ws, ["Ann", "Joe Biden"])
    outside = tmp_path_factory.mktemp("elsewhere")
    logs = [ws / "logs" / "recognitions.csv", ws / "logs" / "grid.csv", outside / "door.csv", outside / "given.csv"]
    for path in logs:
        _log_rows(path, "Joe Biden", "Ann")
    record_outputs(ws / "data" / "outputs.json", ["logs/grid.csv", outside / "door.csv", outside / "usb" / "x.csv"],
                   [outside / "door.mp4"])
    (outside / "door.mp4").write_bytes(b"video")
    code, out, err = _run(capsys, "remove", "Joe Biden", "--everywhere", "--log", str(outside / "given.csv"))
    assert code == 0, err
    for path in logs:
        assert [row["name"] for row in read_log(path)] == ["Ann"], path
    assert "4 CSV log rows in 5 logs" in out
    assert f"also cleaned logs outside this workspace: {outside / 'door.csv'}, {outside / 'given.csv'}" in out
    assert f"not found now (on a disk not mounted?): {outside / 'usb' / 'x.csv'}; when one is back, clean it with " \
           f"face-enroll remove 'Joe Biden' --everywhere --log PATH" in out
    assert "may still show Joe Biden" in out and str(outside / "door.mp4") in out


def test_everywhere_names_a_log_it_cannot_clean_with_the_command_to_clean_it(ws, tmp_path_factory, capsys):
    from facecore.outputs import record_outputs

    _person(ws, "Ann")
    outside = tmp_path_factory.mktemp("elsewhere")
    _log_rows(ws / "logs" / "recognitions.csv", "Joe Biden")
    (outside / "odd.csv").write_text("when,who\n1,Joe Biden\n")  # not a face-live log (any more)
    record_outputs(ws / "data" / "outputs.json", [outside / "odd.csv"])
    code, out, err = _run(capsys, "remove", "Joe Biden", "--everywhere")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"cannot clean the CSV log {outside / 'odd.csv'}" in err
    assert f"face-enroll remove 'Joe Biden' --everywhere --log {outside / 'odd.csv'}" in err
    assert read_log(ws / "logs" / "recognitions.csv") == []


# -- the event database ------------------------------------------------------------------------

def _sightings(root, rows: list[dict]) -> None:
    from facecore.eventdb import EventDb

    db = EventDb(root / "data" / "events.db")
    try:
        for row in rows:
            db.record(row)
    finally:
        db.close()


def test_everywhere_empties_the_event_database_of_them_leaving_no_byte(ws, capsys):
    _person(ws, "Obama")
    _person(ws, "Ann")
    _bundle(ws, ["Ann", "Obama"])
    row = {"time": "2026-12-01T10:00:00+00:00", "confidence": 0.9, "frame": 1, "x1": 1, "y1": 1, "x2": 9, "y2": 9,
           "source": "cam", "snapshot": ""}
    _sightings(ws, [{**row, "name": "Obama", "track": 1}, {**row, "name": "Ann", "track": 2},
                    {**row, "name": "Obama", "track": 1, "time": "2026-12-01T10:00:05+00:00"}])
    code, out, err = _run(capsys, "remove", "Obama", "--everywhere")
    assert code == 0, (out, err)
    assert ", 3 event database rows" in out, out  # his 2 sightings and the event they make
    with closing(sqlite3.connect(ws / "data" / "events.db")) as db:
        assert db.execute("SELECT name FROM sightings UNION SELECT name FROM events").fetchall() == [("Ann",)]
    assert not [p for p in (ws / "data").rglob("events.db*") if b"Obama" in p.read_bytes()]


def test_everywhere_with_a_damaged_event_database_cleans_the_rest_and_says_so(ws, capsys):
    _person(ws, "Obama")
    with CsvLog(ws / "logs" / "recognitions.csv") as log:
        log.append({"name": "Obama", "track": 1})
    (ws / "data" / "events.db").write_bytes(b"this is no database " * 200)
    code, out, err = _run(capsys, "remove", "Obama", "--everywhere")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "event database" in err and "events.db" in err
    assert read_log(ws / "logs" / "recognitions.csv") == []  # the log was cleaned all the same
