"""Configuration: TOML file -> frozen dataclasses -> ``--set`` overrides, applied last.

Each section of the file is one frozen dataclass. Unknown sections or keys, wrong
types and out-of-range values raise :class:`ConfigError` naming the file, the key and
what was expected. ``configs/default.toml`` documents every key; the defaults below
are the same values (a test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .errors import ConfigError
from .urls import mask_url, url_problem

__all__ = ["Config", "load_config", "parse_override", "apply_values", "given_keys", "MAX_FILE_BYTES",
           "WEBHOOK_SCHEMES", "MQTT_SCHEMES"]

MAX_FILE_BYTES = 1 << 20  # a config file is a page of text: 1 MiB is far more than enough


def _f(default: Any, lo: float | None = None, hi: float | None = None, choices: tuple = (),
       above: float | None = None, items: tuple[int, int] | None = None, length: tuple[int, int] | None = None):
    """A dataclass field with its validation limits kept in its metadata.

    ``lo``/``hi``: inclusive bounds; ``above``: an exclusive lower bound; ``choices``: the
    allowed strings. Lists: ``items`` bounds each (integer) item (``None``: the items are
    non-empty strings), ``length`` the item count.
    """
    meta = {"lo": lo, "hi": hi, "above": above, "choices": choices, "items": items, "length": length}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


_SEED_MAX = 2**32 - 1  # NumPy's and scikit-learn's random states take 0..2**32-1
_HOUR, _DAY = 3600.0, 86400.0


@dataclass(frozen=True)
class CameraConfig:
    source: str = "0"
    sources: list = _f([], length=(0, 64))
    width: int = _f(0, lo=0, hi=16384)
    height: int = _f(0, lo=0, hi=16384)
    reconnect_attempts: int = _f(5, lo=0, hi=1000)
    reconnect_backoff_s: float = _f(1.0, lo=0.0, hi=_HOUR)
    pace: bool = False
    cut_threshold: float = _f(0.15, lo=0.0, hi=1.0)


@dataclass(frozen=True)
class DetectorConfig:
    max_side: int = _f(480, lo=32, hi=8192)
    refine_side: int = _f(1280, lo=0, hi=16384)
    min_face_size: int = _f(20, lo=12, hi=20)
    threshold_pnet: float = _f(0.6, lo=0.0, hi=1.0)
    threshold_rnet: float = _f(0.7, lo=0.0, hi=1.0)
    threshold_onet: float = _f(0.8, lo=0.0, hi=1.0)
    min_score: float = _f(0.9, lo=0.0, hi=1.0)
    every_n_frames: int = _f(3, lo=1, hi=1000)
    compiled: bool = True


@dataclass(frozen=True)
class CropConfig:
    margin: float = _f(0.0, lo=0.0, hi=2.0)
    align: bool = True
    mirror: bool = True


@dataclass(frozen=True)
class BackboneConfig:
    name: str = _f("vgg16", choices=("vgg16", "facenet"))
    weights: str = "imagenet"


@dataclass(frozen=True)
class HeadConfig:
    kind: str = _f("centroid", choices=("centroid", "linear", "mlp"))
    hidden: list = _f([1024, 256], items=(1, 65536), length=(0, 8))
    epochs: int = _f(20, lo=1, hi=10000)
    batch_size: int = _f(32, lo=1, hi=65536)
    learning_rate: float = _f(0.001, above=0.0, hi=1.0)


@dataclass(frozen=True)
class TrainConfig:
    data: str = "data/people"
    model: str = "models/current"
    cache_dir: str = "data/cache"
    validation_split: float = _f(0.15, lo=0.0, hi=0.5)
    seed: int = _f(42, lo=0, hi=_SEED_MAX)
    min_images: int = _f(2, lo=1, hi=1000)
    no_face: str = _f("skip", choices=("skip", "whole"))
    max_image_side: int = _f(2048, lo=64, hi=16384)


@dataclass(frozen=True)
class RecognitionConfig:
    target_far: float = _f(0.02, above=0.0, hi=0.5)
    target_frr: float = _f(0.01, lo=0.0, hi=0.5)
    use_calibrated: bool = True
    threshold: float = _f(0.5, lo=0.0, hi=1.0)
    batch_sizes: list = _f([1, 2, 4, 8, 16], items=(1, 1024), length=(1, 16))
    device: str = _f("auto", choices=("auto", "cpu", "gpu"))
    runtime: str = _f("auto", choices=("auto", "litert", "tensorflow"))
    threads: int = _f(0, lo=0, hi=256)


@dataclass(frozen=True)
class TrackerConfig:
    iou_match: float = _f(0.3, lo=0.0, hi=1.0)
    max_missed: int = _f(10, lo=0, hi=100000)
    recognize_every: int = _f(10, lo=1, hi=100000)
    vote_window: int = _f(5, lo=1, hi=1000)
    vote_min: int = _f(3, lo=1, hi=1000)


@dataclass(frozen=True)
class OverlayConfig:
    show_stats: bool = True
    font_scale: float = _f(0.6, lo=0.1, hi=10.0)
    thickness: int = _f(2, lo=1, hi=50)
    window_name: str = "facecam"
    stale_s: float = _f(1.0, lo=0.0, hi=_HOUR)
    snapshot_dir: str = "snapshots"


@dataclass(frozen=True)
class LogConfig:
    path: str = "logs/recognitions.csv"
    registry: str = "data/outputs.json"
    cooldown_s: float = _f(60.0, lo=0.0, hi=_DAY)
    log_unknown: bool = True
    fsync: bool = False


@dataclass(frozen=True)
class FacesConfig:
    folder: str = "data/faces"
    per_track: int = _f(3, lo=1, hi=100)
    max_faces: int = _f(10000, lo=1, hi=10_000_000)
    retention_days: float = _f(30.0, above=0.0, hi=36500.0)


@dataclass(frozen=True)
class EventsConfig:
    database: str = "data/events.db"
    webhooks: list = _f([], length=(0, 16))
    mqtt: str = ""
    notify: str = _f("all", choices=("all", "named", "unknown"))
    cooldown_s: float = _f(60.0, lo=0.0, hi=_DAY)


@dataclass(frozen=True)
class ReviewConfig:
    sheets: str = "data/review"
    distance: float = _f(0.0, lo=0.0, hi=2.0)


@dataclass(frozen=True)
class CaptureConfig:
    count: int = _f(10, lo=1, hi=1000)
    min_score: float = _f(0.95, lo=0.0, hi=1.0)
    min_face_px: int = _f(80, lo=12, hi=4096)
    min_sharpness: float = _f(40.0, lo=0.0, hi=100000.0)
    min_brightness: float = _f(40.0, lo=0.0, hi=255.0)
    max_brightness: float = _f(220.0, lo=0.0, hi=255.0)
    max_similarity: float = _f(0.92, lo=0.0, hi=1.0)
    min_interval_s: float = _f(0.3, lo=0.0, hi=_HOUR)
    pose_variety: bool = True
    yaw_deg: float = _f(10.0, lo=0.0, hi=60.0)
    pitch_deg: float = _f(8.0, lo=0.0, hi=60.0)
    pose_wait_s: float = _f(0.8, lo=0.0, hi=_HOUR)
    image_px: int = _f(320, lo=64, hi=4096)
    image_margin: float = _f(0.6, lo=0.0, hi=2.0)


@dataclass(frozen=True)
class RayConfig:
    address: str = ""
    replicas: int = _f(1, lo=1, hi=1024)
    replica_cpus: float = _f(1.0, lo=0.0, hi=1024.0)
    num_gpus: float = _f(0.0, lo=0.0, hi=64.0)
    max_batch_size: int = _f(16, lo=1, hi=1024)
    batch_wait_s: float = _f(0.01, lo=0.0, hi=1.0)
    camera_cpus: float = _f(0.5, lo=0.0, hi=1024.0)
    max_restarts: int = _f(3, lo=0, hi=1000)


@dataclass(frozen=True)
class Config:
    camera: CameraConfig = field(default_factory=CameraConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    overlay: OverlayConfig = field(default_factory=OverlayConfig)
    log: LogConfig = field(default_factory=LogConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    ray: RayConfig = field(default_factory=RayConfig)

    @property
    def sources(self) -> list[str]:
        """The sources face-live reads: ``camera.sources``, else the one ``camera.source``."""
        return list(self.camera.sources) or [self.camera.source]

    def replace(self, **sections: Any) -> "Config":
        """Return a copy with whole sections or ``section={"key": value}`` dicts changed."""
        changes = {}
        for name, value in sections.items():
            current = getattr(self, name)
            changes[name] = dataclasses.replace(current, **value) if isinstance(value, dict) else value
        return dataclasses.replace(self, **changes)


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list"}


def _shown(value: Any) -> str:
    """``repr(value)`` for an error, a URL's credentials masked (a source may be a stream URL)."""
    if isinstance(value, list):
        return repr([mask_url(v) if isinstance(v, str) else v for v in value])
    return repr(mask_url(value) if isinstance(value, str) else value)


def _typed(where: str, key: str, kind: type, value: Any) -> Any:
    """``value`` when it has the field's type (an integer is taken as a number); NaN and
    infinities are refused: no limit or rule can be checked against them."""
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"{where}: {key} must be {_TYPE_NAMES[kind]}, got {_shown(value)}")
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be a finite number, got {value!r}")
    return value


def _check_range(where: str, key: str, meta: Any, value: Any) -> None:
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(meta['choices'])}, got {value!r}")
    if meta.get("above") is not None and not value > meta["above"]:
        raise ConfigError(f"{where}: {key} must be > {meta['above']}, got {value!r}")
    if meta.get("lo") is not None and value < meta["lo"]:
        raise ConfigError(f"{where}: {key} must be >= {meta['lo']}, got {value!r}")
    if meta.get("hi") is not None and value > meta["hi"]:
        raise ConfigError(f"{where}: {key} must be <= {meta['hi']}, got {value!r}")


def _check_list(where: str, key: str, meta: Any, value: list) -> None:
    """A list of whole numbers, each within ``items`` (or of non-empty strings), as many as
    ``length`` allows."""
    fewest, most = meta["length"]
    if meta["items"] is None:
        if not all(isinstance(v, str) and v.strip() for v in value) or not fewest <= len(value) <= most:
            raise ConfigError(f"{where}: {key} must be a list of {fewest} to {most} non-empty strings, "
                              f"got {_shown(value)}")
        return
    lo, hi = meta["items"]
    whole = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if not whole or not fewest <= len(value) <= most or not all(lo <= v <= hi for v in value):
        raise ConfigError(f"{where}: {key} must be a list of {fewest} to {most} integers, "
                          f"each {lo}..{hi}, got {value!r}")


def _check_value(where: str, key: str, spec: dataclasses.Field, value: Any) -> Any:
    kind = {"int": int, "float": float, "bool": bool, "str": str, "list": list}[str(spec.type)]
    value = _typed(where, key, kind, value)
    if kind is list:
        _check_list(where, key, spec.metadata, value)
    else:
        _check_range(where, key, spec.metadata, value)
    return value


def _apply(config: Config, data: dict, where: str) -> Config:
    sections = {f.name: f for f in dataclasses.fields(Config)}
    changes: dict[str, dict] = {}
    for section, values in data.items():
        if section not in sections:
            raise ConfigError(f"{where}: unknown section [{section}] (known: {', '.join(sections)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{section}] must be a table of keys")
        specs = {f.name: f for f in dataclasses.fields(getattr(config, section))}
        for key, value in values.items():
            if key not in specs:
                raise ConfigError(f"{where}: unknown key {section}.{key} (known: {', '.join(specs)})")
            checked = _check_value(where, f"{section}.{key}", specs[key], value)
            changes.setdefault(section, {})[key] = checked
    new = config.replace(**changes)
    _check_cross(new, where)
    return new


def _check_cross(config: Config, where: str) -> None:
    if config.capture.min_brightness >= config.capture.max_brightness:
        raise ConfigError(f"{where}: capture.min_brightness must be below capture.max_brightness")
    if config.tracker.vote_min > config.tracker.vote_window:
        raise ConfigError(f"{where}: tracker.vote_min must be <= tracker.vote_window")
    _check_urls(config, where)


WEBHOOK_SCHEMES, MQTT_SCHEMES = ("http", "https"), ("mqtt", "mqtts")


def _check_urls(config: Config, where: str) -> None:
    """Each webhook an http(s) URL, the broker an mqtt(s) URL, each with a host and a valid port
    (the error names the key and shows the URL with its credentials masked)."""
    checks = [("events.webhooks", url, WEBHOOK_SCHEMES) for url in config.events.webhooks]
    if config.events.mqtt:
        checks.append(("events.mqtt", config.events.mqtt, MQTT_SCHEMES))
    for key, url, schemes in checks:
        problem = url_problem(url, schemes)
        if problem:
            raise ConfigError(f"{where}: {key}: {problem}")


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parse ``section.key=value``; the value is read as TOML, else taken as a plain string."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, key, value


def _open_regular(path: Path) -> int:
    """A descriptor of ``path`` opened for reading, after checking that it is a regular file of
    at most ``MAX_FILE_BYTES`` (a FIFO is opened without waiting for a writer, then refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES:
        return fd
    os.close(fd)
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ConfigError(f"config file {path} is {kind}: expected a TOML file")
    raise ConfigError(f"config file {path} is too large: {info.st_size} bytes, at most {MAX_FILE_BYTES}")


def _read_file(path: Path) -> str:
    """The text of the config file ``path``, read only up to ``MAX_FILE_BYTES`` (+1 to see
    a file that grew after it was checked)."""
    fd = _open_regular(path)
    try:
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"config file {path} is too large: more than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read config file {path}: not UTF-8 text "
                          f"({exc.reason} at byte {exc.start})") from None


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Config:
    """Load defaults, then ``path`` (if given), then each ``section.key=value`` override."""
    config = Config()
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(_read_file(path))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        config = _apply(config, data, str(path))
    for text in overrides:
        section, key, value = parse_override(text)
        config = _apply(config, {section: {key: value}}, "--set")
    return config


def apply_values(config: Config, values: dict[str, Any], where: str) -> Config:
    """``config`` with ``{"section.key": value}`` applied and checked like a file's (``where`` names
    their origin in errors, e.g. a command-line flag)."""
    for dotted, value in values.items():
        section, _, key = dotted.partition(".")
        config = _apply(config, {section: {key: value}}, where)
    return config


def given_keys(path: str | Path | None, overrides: Iterable[str] = ()) -> set[str]:
    """``section.key`` names set by the file at ``path`` (already loaded by ``load_config``) or by
    ``overrides``: what the user chose, as opposed to defaults."""
    keys = {f"{section}.{key}" for section, key, _ in map(parse_override, overrides)}
    if path is not None:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        keys |= {f"{s}.{k}" for s, table in data.items() if isinstance(table, dict) for k in table}
    return keys
