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
            line = next(l for l in text.splitlines() if l.startswith(f"{key.name} ") or l.startswith(f"{key.name}="))
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
