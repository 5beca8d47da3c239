"""face-enroll train / eval end to end on real LFW faces with real MTCNN and backbones."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from enroll.evaluation import evaluate
from enroll.training import train
from facecore.models import Models
from facecore.bundle import load_bundle
from facecore.config import load_config
from facecore.errors import DataError
from facecore.recognizer import Recognizer
from helpers import DATA, FACENET_H5, copy_people, leftovers, lfw_people, need, run_command

PEOPLE = ["Abdullah_Gul", "Amelie_Mauresmo", "Andy_Roddick", "Ann_Veneman", "Bill_Clinton", "Britney_Spears"]


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, facenet_config, facenet_models):
    """Six LFW people, photos 1-6 enrolled (photos 9-10 kept for testing), trained once."""
    root = tmp_path_factory.mktemp("facenet")
    data = copy_people(root / "people", lfw_people(PEOPLE, 0, 6))
    test = copy_people(root / "test", lfw_people(PEOPLE, 8, 10))
    strangers = need(DATA / "unknown-dev" / "lfw")
    unknown = root / "unknown"
    for person in sorted(strangers.iterdir())[:12]:
        shutil.copytree(person, unknown / person.name)
    config = facenet_config.replace(train={"cache_dir": str(root / "cache")})
    result = train(config, data, root / "model", models=facenet_models, progress=False)
    return {"root": root, "data": data, "test": test, "unknown": unknown, "config": config, "result": result}


def test_training_writes_a_calibrated_bundle(enrolled):
    result = enrolled["result"]
    bundle = load_bundle(result.path)
    assert bundle.labels == sorted(PEOPLE)
    assert bundle.meta["backbone"]["name"] == "facenet"
    assert 0.0 < bundle.meta["threshold"] < 1.0
    assert set(result.counts) == set(PEOPLE) and min(result.counts.values()) >= 5
    assert bundle.meta["metrics"]["n_impostor"] == sum(result.counts.values()) == 36 - len(result.skipped)
    assert (result.path / "calibration.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_names_enrolled_people_and_rejects_strangers(enrolled, facenet_models):
    report = evaluate(enrolled["config"], enrolled["test"], enrolled["result"].path, enrolled["unknown"],
                      models=facenet_models, progress=False).report
    assert report["n"] == 12 and report["n_unknown"] >= 15
    assert report["closed_set_accuracy"] >= 11 / 12
    # six people: the threshold leans on held-out enrolled photos (target_frr), trading a
    # few rejected photos of enrolled people for strangers not being named
    assert report["accuracy"] >= 8 / 12
    assert report["unknown_false_accept_rate"] <= 0.05
    meta = load_bundle(enrolled["result"].path).meta
    assert report["threshold"] == meta["threshold"] == max(v for v in meta["threshold_parts"].values() if v)
    assert set(report["per_person"]) == set(PEOPLE)


def test_adding_a_person_computes_only_their_features(enrolled, facenet_models):
    data = enrolled["root"] / "people_plus"
    shutil.copytree(enrolled["data"], data)
    copy_people(data, lfw_people(["Halle_Berry"], 0, 4))

    class Counting:
        def __init__(self, inner):
            self.inner, self.calls = inner, 0
            self.config = inner.config

        def detect(self, frame):
            self.calls += 1
            return self.inner.detect(frame)

    counting = Counting(facenet_models.detector)
    models = Models(counting, facenet_models.backbone)
    result = train(enrolled["config"], data, enrolled["root"] / "model_plus", models=models, progress=False)
    assert counting.calls == 4
    assert "Halle_Berry" in result.labels and result.counts["Halle_Berry"] == 4


def test_bad_files_are_named_and_skipped(enrolled, facenet_models, tmp_path):
    data = copy_people(tmp_path / "people", lfw_people(PEOPLE[:3], 0, 3))
    victim = data / PEOPLE[0]
    (victim / "empty.jpg").write_bytes(b"")
    (victim / "notes.png").write_bytes(b"not an image at all")
    good = (victim / f"{PEOPLE[0]}_0001.jpg").read_bytes()
    (victim / "cut.jpg").write_bytes(good[: len(good) // 3])
    noise = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    import cv2

    cv2.imwrite(str(victim / "noface.png"), noise)
    config = enrolled["config"].replace(train={"cache_dir": str(tmp_path / "cache")})
    result = train(config, data, tmp_path / "model", models=facenet_models, progress=False)
    skipped = {p.name: why for p, why in result.skipped}
    assert set(skipped) == {"empty.jpg", "notes.png", "cut.jpg", "noface.png"}
    assert skipped["noface.png"] == "no face found" and "empty" in skipped["empty.jpg"]
    assert result.counts[PEOPLE[0]] == 3


def test_person_without_enough_images_is_a_clear_error(enrolled, facenet_models, tmp_path):
    data = copy_people(tmp_path / "people", lfw_people(PEOPLE[:2], 0, 3))
    for f in list((data / PEOPLE[1]).iterdir())[1:]:
        f.unlink()
    config = enrolled["config"].replace(train={"cache_dir": str(tmp_path / "cache")})
    with pytest.raises(DataError, match=rf"{PEOPLE[1]} \(1\)"):
        train(config, data, tmp_path / "model", models=facenet_models, progress=False)


def test_bundle_for_another_backbone_is_refused(enrolled):
    from facecore.errors import BundleError

    config = load_config(None, ["backbone.name=vgg16", "backbone.weights=none"])
    with pytest.raises(BundleError, match="trained with backbone 'facenet'"):
        Recognizer.from_bundle(load_bundle(enrolled["result"].path), config)


@pytest.mark.slow  # real eval processes on the real models
def test_cli_eval_json_and_exit_codes(enrolled, tmp_path):
    sets = ["--set", "backbone.name=facenet", "--set", f"backbone.weights={FACENET_H5}"]
    model = str(enrolled["result"].path)
    before = _snapshot(enrolled["result"].path)
    done = run_command("enroll.cli", "eval", str(enrolled["test"]), "--model", model, "--json", "--quiet", *sets,
                       cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in ("accuracy", "closed_set_accuracy", "unknown_false_accept_rate", "n", "n_unknown", "per_person"):
        assert key in report
    assert report["unknown_false_accept_rate"] is None and report["n"] == 12
    # the plot goes to the current folder, said on stderr; the bundle is never written to
    assert done.stderr.strip().splitlines()[-1] == "confusion matrix written to confusion.png"
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert _snapshot(enrolled["result"].path) == before
    missing = run_command("enroll.cli", "eval", str(enrolled["test"]), "--model", "/nonexistent/bundle", *sets)
    assert missing.returncode == 1 and "no model bundle" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    bad = run_command("enroll.cli", "train", "--set", "head.kind=forest")
    assert bad.returncode == 2 and "head.kind" in bad.stderr


def _train_process(data, model, cache, stderr=None):
    import subprocess
    import sys

    from helpers import REPO

    args = [sys.executable, "-m", "enroll.cli", "train", "--data", str(data), "--model", str(model), "--quiet",
            "--set", "backbone.name=facenet", "--set", f"backbone.weights={FACENET_H5}", "--set", f"train.cache_dir={cache}"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr or subprocess.DEVNULL)


@pytest.mark.slow  # real training processes, each starting TensorFlow
@pytest.mark.alone  # it must catch the bundle half-written: a window of milliseconds
@pytest.mark.parametrize("when", ["while writing the bundle", "after 1 s"])
def test_kill_9_during_training_keeps_a_loadable_bundle(enrolled, tmp_path, when):
    import signal
    import time

    model = tmp_path / "model"
    shutil.copytree(enrolled["result"].path, model)
    data = tmp_path / "people"
    shutil.copytree(enrolled["data"], data)
    copy_people(data, lfw_people(["Halle_Berry"], 0, 3))
    proc = _train_process(data, model, enrolled["root"] / "cache")
    deadline = time.monotonic() + (1 if when == "after 1 s" else 240)  # on LiteRT the retrain can end within 3 s
    while time.monotonic() < deadline and proc.poll() is None:
        if when != "after 1 s" and any(p.name.startswith(".model.tmp-") for p in tmp_path.iterdir()):
            break
        time.sleep(0.002)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    bundle = load_bundle(model)
    assert bundle.labels in (sorted(PEOPLE), sorted(PEOPLE + ["Halle_Berry"]))
    assert len(bundle.arrays["centroids"]) == len(bundle.labels)


def _snapshot(root) -> dict:
    """``{relative path: bytes}`` of every file under ``root``, and the folders as ``None``."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("how", ["--set", "--config"])
def test_train_command_refuses_nan_naming_the_key_and_keeps_the_bundle(tmp_path, how):
    from facecore.bundle import Bundle, save_bundle

    bundle = Bundle({"centroids": np.eye(2, dtype=np.float32)}, ["ann", "bob"], {"head": {"kind": "centroid"}})
    model = save_bundle(tmp_path / "models" / "current", bundle)
    data = copy_people(tmp_path / "people", lfw_people(2, last=3))
    before = _snapshot(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[head]\nlearning_rate = nan\n")
    option = ["--set", "head.learning_rate=nan"] if how == "--set" else ["--config", str(cfg)]
    done = run_command("enroll.cli", "train", "--data", str(data), "--model", str(model), *option, timeout=120)
    where = "--set" if how == "--set" else str(cfg)
    assert done.returncode == 2
    assert done.stderr.strip() == f"face-enroll: error: {where}: head.learning_rate must be a finite number, got nan"
    cfg.unlink()
    assert _snapshot(tmp_path) == before


def _wait_for(proc, ready, limit_s: float) -> None:
    """Poll every 2 ms until ``ready()`` or ``limit_s``; the process must still be running."""
    import time

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.002)
    assert proc.poll() is None, "training ended before it could be terminated"


@pytest.mark.slow  # real training processes, each starting TensorFlow
@pytest.mark.parametrize("when", ["while caching features", "while writing the bundle", "after 1 s"])
def test_sigterm_during_training_exits_143_with_whole_files_and_no_temporary_ones(enrolled, tmp_path, when):
    """SIGTERM (what a service manager or ``kill`` sends) winds training up like Ctrl-C: one line,
    exit 143, every cache entry whole, no temporary file or folder, a loadable bundle: the
    previous one unless the signal came once the new one was in place."""
    import signal

    model, data, cache = tmp_path / "model", tmp_path / "people", tmp_path / "cache"
    shutil.copytree(enrolled["result"].path, model)
    before = _snapshot(model)
    shutil.copytree(enrolled["data"], data)
    copy_people(data, lfw_people(["Halle_Berry"], 0, 3))
    if when == "while writing the bundle":
        shutil.copytree(enrolled["root"] / "cache", cache)  # only the newcomer's 3 features to compute
    with open(tmp_path / "stderr.txt", "w") as stderr:
        proc = _train_process(data, model, cache, stderr)
        if when == "while caching features":
            _wait_for(proc, lambda: any(cache.rglob("*.npy")), 240)
        elif when == "while writing the bundle":
            _wait_for(proc, lambda: any(p.name.startswith(".model.tmp-") for p in tmp_path.iterdir()), 240)
        else:
            _wait_for(proc, lambda: False, 1)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    err = (tmp_path / "stderr.txt").read_text()
    assert code == 143, err
    assert err.strip().splitlines()[-1] == "face-enroll: terminated" and "Traceback" not in err
    assert leftovers(tmp_path) == []
    for entry in cache.rglob("*.npy"):
        assert np.load(entry).ndim == 1
    labels = load_bundle(model).labels
    if labels == sorted(PEOPLE):
        assert _snapshot(model) == before
    else:
        assert when == "while writing the bundle" and labels == sorted(PEOPLE + ["Halle_Berry"])


def test_eval_counts_a_folder_of_someone_not_enrolled_apart_and_says_so(enrolled, facenet_models, tmp_path, caplog,
                                                                        monkeypatch, capsys):
    """A folder under DIR the model does not know (a typo, someone never enrolled) is warned
    about and listed apart; the plots go to --plots DIR, never into the bundle."""
    import logging

    from enroll.cli import main

    test = tmp_path / "test"
    shutil.copytree(enrolled["test"], test)
    copy_people(test, lfw_people(["Halle_Berry"], 0, 2))  # never enrolled
    (test / PEOPLE[0]).rename(test / PEOPLE[0].lower())  # a name the model knows, misspelt
    model = enrolled["result"].path
    before = _snapshot(model)
    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config: facenet_models))
    sets = ["--set", "backbone.name=facenet", "--set", f"backbone.weights={FACENET_H5}"]
    with caplog.at_level(logging.WARNING, logger="enroll.evaluation"):
        code = main(["eval", str(test), "--model", str(model), "--json", "--quiet", "--plots",
                     str(tmp_path / "plots" / "eval"), *sets])
    assert code == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and str(test / "Halle_Berry") in warned[0] and str(test / PEOPLE[0].lower()) in warned[0]
    people = report["per_person"]
    assert people["Halle_Berry"]["enrolled"] is False and people[PEOPLE[0].lower()]["enrolled"] is False
    assert people["Halle_Berry"]["n"] == 2 and people["Halle_Berry"]["closed_set_accuracy"] is None
    assert all(people[name]["enrolled"] is True for name in PEOPLE[1:])
    assert report["n"] == 10 and report["n_not_enrolled"] == 4  # the accuracies are over enrolled people only
    assert report["closed_set_accuracy"] >= 9 / 10
    plot = tmp_path / "plots" / "eval" / "confusion.png"
    assert plot.read_bytes()[:4] == b"\x89PNG" and f"confusion matrix written to {plot}" in err
    assert _snapshot(model) == before
    assert main(["eval", str(test), "--model", str(model), "--plots", str(model), *sets]) == 2
    assert "inside the model bundle" in capsys.readouterr().err


def test_the_confusion_matrix_shows_each_cells_count():
    from enroll.plots import confusion_figure, confusion_matrix

    matrix = np.array([[5, 0, 1], [0, 3, 0]])
    texts = confusion_figure(matrix, ["ann", "bob"], ["ann", "bob", "unknown"]).axes[0].texts
    shown = sorted((round(t.get_position()[1]), round(t.get_position()[0]), t.get_text()) for t in texts)
    assert shown == [(0, 0, "5"), (0, 2, "1"), (1, 1, "3")]
    assert confusion_matrix(matrix, ["ann", "bob"], ["ann", "bob", "unknown"])[:4] == b"\x89PNG"


def test_plain_eval_has_a_row_per_person_matching_the_json(enrolled, facenet_models, tmp_path, monkeypatch, capsys):
    from enroll.cli import main

    monkeypatch.setattr(Models, "build", classmethod(lambda cls, config: facenet_models))
    args = ["eval", str(enrolled["test"]), "--model", str(enrolled["result"].path), "--quiet", "--plots", str(tmp_path),
            "--set", "backbone.name=facenet", "--set", f"backbone.weights={FACENET_H5}"]
    assert main([*args, "--json"]) == 0
    people = json.loads(capsys.readouterr().out)["per_person"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    for name, p in people.items():
        row = next(line.split() for line in lines if line.split()[:1] == [name])
        assert row[1:] == [str(p["n"]), "yes", f"{p['accuracy']:.3f}", f"{p['closed_set_accuracy']:.3f}"]
