"""Config: the TOML file, the dataclass defaults and --set overrides agree and fail loudly."""

from __future__ import annotations

import dataclasses

import pytest

from facecore.config import Config, load_config, parse_override
from facecore.errors import ConfigError
from helpers import REPO


def test_default_toml_matches_dataclass_defaults():
    assert load_config(REPO / "configs" / "default.toml") == Config()


def test_default_toml_documents_every_key():
    text = (REPO / "configs" / "default.toml").read_text()
    for section in dataclasses.fields(Config):
        assert f"[{section.name}]" in text
        for key in dataclasses.fields(getattr(Config(), section.name)):
            line = next(t for t in text.splitlines() if t.startswith(f"{key.name} ") or t.startswith(f"{key.name}="))
            assert "#" in line, f"{section.name}.{key.name} has no comment"


def test_overrides_apply_last_and_parse_toml_values(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[head]\nkind = "mlp"\n[detector]\nmax_side = 640\n')
    c = load_config(cfg, ["detector.max_side=320", "backbone.weights=/some/path.h5", "head.hidden=[8, 4]"])
    assert c.head.kind == "mlp"
    assert c.detector.max_side == 320
    assert c.backbone.weights == "/some/path.h5"
    assert c.head.hidden == [8, 4]


@pytest.mark.parametrize(
    "text, words",
    [
        ('[nosuch]\nx = 1\n', ["c.toml", "nosuch"]),
        ('[head]\ncolour = 1\n', ["c.toml", "head.colour"]),
        ('[detector]\nmax_side = "big"\n', ["c.toml", "detector.max_side", "integer"]),
        ('[recognition]\nthreshold = 1.5\n', ["c.toml", "recognition.threshold", "<= 1.0"]),
        ('[capture]\nmin_face_px = -4\n', ["c.toml", "capture.min_face_px", ">="]),
        ('[camera]\ncut_threshold = 1.5\n', ["c.toml", "camera.cut_threshold", "<= 1.0"]),
        ('[camera]\ncut_threshold = nan\n', ["c.toml", "camera.cut_threshold"]),
        ('[head]\nkind = "forest"\n', ["c.toml", "head.kind", "centroid"]),
        ('[detector]\ncompiled = 1\n', ["c.toml", "detector.compiled", "true or false"]),
        ('[head\n', ["c.toml", "invalid TOML"]),
    ],
)
def test_bad_config_files_name_file_key_and_expectation(tmp_path, text, words):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    for word in words:
        assert word in str(err.value)
    assert err.value.exit_code == 2


def test_bad_override_and_missing_file():
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("justakey")
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/facecam.toml")
    with pytest.raises(ConfigError, match="--set: tracker.vote_min"):
        load_config(None, ["tracker.vote_min=9"])


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().head.kind = "mlp"


def _numeric_fields():
    """``(section.key, kind, metadata)`` for every int and float setting."""
    for section in dataclasses.fields(Config):
        for spec in dataclasses.fields(getattr(Config(), section.name)):
            if str(spec.type) in ("int", "float"):
                yield f"{section.name}.{spec.name}", str(spec.type), spec.metadata


FLOAT_KEYS = [key for key, kind, _ in _numeric_fields() if kind == "float"]


def test_every_numeric_setting_has_both_limits():
    unbounded = [key for key, _, meta in _numeric_fields()
                 if meta.get("hi") is None or (meta.get("lo") is None and meta.get("above") is None)]
    assert unbounded == []


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+inf"])
def test_nan_and_infinities_are_refused_from_a_file_and_from_set(tmp_path, key, value):
    section, name = key.split(".")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[{section}]\n{name} = {value}\n")
    for call, where in ((lambda: load_config(cfg), str(cfg)), (lambda: load_config(None, [f"{key}={value}"]), "--set")):
        with pytest.raises(ConfigError) as err:
            call()
        assert str(err.value).startswith(f"{where}: {key} must be a finite number, got ")
        assert err.value.exit_code == 2


@pytest.mark.parametrize("override, words", [
    ("camera.reconnect_backoff_s=3601", "<= 3600.0"),
    ("camera.reconnect_backoff_s=-1", ">= 0.0"),
    ("camera.width=100000", "<= 16384"),
    ("camera.reconnect_attempts=-1", ">= 0"),
    ("head.learning_rate=0", "> 0.0"),
    ("head.learning_rate=1.5", "<= 1.0"),
    ("head.epochs=0", ">= 1"),
    ("head.batch_size=10000000", "<= 65536"),
    ("crop.margin=2.5", "<= 2.0"),
    ("detector.min_score=1.1", "<= 1.0"),
    ("detector.max_side=100000", "<= 8192"),
    ("detector.every_n_frames=0", ">= 1"),
    ("recognition.target_frr=0.6", "<= 0.5"),
    ("recognition.target_far=0", "> 0.0"),
    ("recognition.target_far=1", "<= 0.5"),
    ("train.validation_split=0.9", "<= 0.5"),
    ("train.seed=-1", ">= 0"),
    ("train.seed=4294967296", "<= 4294967295"),
    ("train.min_images=0", ">= 1"),
    ("tracker.max_missed=-3", ">= 0"),
    ("overlay.font_scale=50", "<= 10.0"),
    ("overlay.thickness=0", ">= 1"),
    ("log.cooldown_s=1e9", "<= 86400.0"),
    ("capture.count=0", ">= 1"),
    ("capture.min_sharpness=-1", ">= 0.0"),
    ("capture.image_px=10", ">= 64"),
    ("head.hidden=[0]", "a list of 0 to 8 integers, each 1..65536"),
    ("head.hidden=[64, 2.5]", "a list of 0 to 8 integers"),
    ("head.hidden=[1, 1, 1, 1, 1, 1, 1, 1, 1]", "a list of 0 to 8 integers"),
    ("head.hidden=[true]", "a list of 0 to 8 integers"),
    ("recognition.batch_sizes=[]", "a list of 1 to 16 integers, each 1..1024"),
    ("recognition.batch_sizes=[1, -2]", "a list of 1 to 16 integers"),
    ("recognition.batch_sizes=[1, 4096]", "each 1..1024"),
    ("recognition.batch_sizes=[\"8\"]", "a list of 1 to 16 integers"),
])
def test_out_of_range_values_name_the_key_and_the_limit(override, words):
    key = override.partition("=")[0]
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert str(err.value).startswith(f"--set: {key} must be ") and words in str(err.value)


def test_the_limits_let_the_edges_through():
    c = load_config(None, ["head.learning_rate=1", "recognition.target_far=0.5", "train.seed=4294967295",
                           "camera.reconnect_backoff_s=3600", "head.hidden=[]", "recognition.batch_sizes=[1024]"])
    assert (c.head.learning_rate, c.train.seed, c.head.hidden) == (1.0, 2**32 - 1, [])


def _limited_run(*args: str, timeout: float = 60):
    """``python -m enroll.cli args`` as a real process with at most 2 GiB of address space, so
    that reading an endless file fails fast instead of filling the machine's memory."""
    import os
    import resource
    import subprocess
    import sys

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "enroll.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=limit)


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "folder", "huge", "huge-sparse"])
def test_config_must_be_a_small_regular_file_and_is_never_read_whole(tmp_path, kind):
    import os

    path = tmp_path / "c.toml"
    if kind == "/dev/zero":
        path = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(path)  # nobody writes: opening it normally would wait for ever
    elif kind == "folder":
        path.mkdir()
    elif kind == "huge":
        path.write_text("# a comment\n" * 100_000)  # 1.2 MB of valid TOML
    else:
        with open(path, "wb") as fh:
            fh.truncate(3 << 30)  # 3 GiB, sparse: more than the process may hold
    done = _limited_run("list", "--config", str(path), "--data", str(tmp_path / "people"))
    words = {"/dev/zero": "is not a regular file: expected a TOML file",
             "fifo": "is not a regular file: expected a TOML file", "folder": "is a folder: expected a TOML file",
             "huge": "is too large: 1200000 bytes, at most 1048576",
             "huge-sparse": f"is too large: {3 << 30} bytes, at most 1048576"}[kind]
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"face-enroll: error: config file {path} {words}"
    assert done.stdout == ""
