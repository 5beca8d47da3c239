"""What a model bundle must hold: every field of ``meta.json``, the labels and the head's
arrays checked when a bundle is loaded, so that a wrong value is one line naming the
field (``BundleError``), never a ``TypeError`` later or a threshold that names every
stranger (below 0) or nobody (NaN, above 1)."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .errors import BundleError

__all__ = ["check_bundle_fields", "HEAD_ARRAYS"]

HEAD_ARRAYS = {"centroid": ("centroids",), "linear": ("input_shape", "w0"), "mlp": ("input_shape", "w0")}
_CROP_KEYS = {"margin", "align", "mirror"}


def _number(lo: float, hi: float, lo_open: bool = False) -> Callable[[Any], str]:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); returns what is wrong, or ``""``."""
    def check(value: Any) -> str:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > lo if lo_open else value >= lo) and value <= hi
        return "" if ok else f"must be a number in {'(' if lo_open else '['}{lo}, {hi}], got {value!r}"
    return check


def _kind(expected: type, what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        return "" if ok else f"must be {what}, got {value!r}"
    return check


def _choice(*options: str) -> Callable[[Any], str]:
    return lambda value: "" if value in options else f"must be one of {', '.join(options)}, got {value!r}"


_TEXT = _kind(str, "a string")
_count = _kind(int, "a whole number")
_SCORE = _number(0.0, 1.0)
_REQUIRED: dict[str, Callable[[Any], str]] = {
    "format_version": _kind(int, "an integer"),
    "backbone.name": _TEXT,
    "backbone.input_size": _kind(int, "an integer"),
    "backbone.weights_id": _TEXT,
    "head.kind": _choice(*HEAD_ARRAYS),
    "threshold": _number(0.0, 1.0, lo_open=True),
}
_OPTIONAL: dict[str, Callable[[Any], str]] = {
    "id": _TEXT,
    "created": _TEXT,
    "backbone.weights": _TEXT,
    "crop.margin": _number(0.0, 2.0),
    "crop.align": _kind(bool, "true or false"),
    "crop.mirror": _kind(bool, "true or false"),
    "head.hidden": lambda v: "" if isinstance(v, list) and v and all(
        isinstance(h, int) and not isinstance(h, bool) and 0 < h <= 65536 for h in v) else
        f"must be a list of positive integers, got {v!r}",
    "target_far": _SCORE,
    "target_frr": _SCORE,
    "threshold_parts": lambda v: "" if isinstance(v, dict) and all(
        p is None or not _SCORE(p) for p in v.values()) else f"must map names to scores in [0, 1], got {v!r}",
    "people": lambda v: "" if isinstance(v, dict) and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v.values()) else
        f"must map names to image counts, got {v!r}",
    "metrics": _kind(dict, "a table"),
    "person_thresholds": lambda v: "" if isinstance(v, dict) and all(
        isinstance(n, str) and not _SCORE(p) for n, p in v.items())
    else f"must map names to scores in [0, 1], got {v!r}",
    "cluster_distance": _kind(dict, "a table"),
    "cluster_distance.distance": _number(0.0, 2.0),
    "cluster_distance.genuine_pairs": _count,
    "cluster_distance.impostor_pairs": _count,
}
_MISSING = object()


def _get(meta: dict, dotted: str) -> Any:
    value: Any = meta
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(part, _MISSING)
    return value


def _check_meta(meta: Any, fail: Callable[[str], BundleError]) -> None:
    if not isinstance(meta, dict):
        raise fail("meta.json must hold a table")
    for section in ("backbone", "head", "crop"):
        if section in meta and not isinstance(meta[section], dict):
            raise fail(f"meta.json: {section} must be a table, got {meta[section]!r}")
    for fields, required in ((_REQUIRED, True), (_OPTIONAL, False)):
        for key, check in fields.items():
            value = _get(meta, key)
            if value is _MISSING:
                if required:
                    raise fail(f"meta.json has no {key}")
                continue
            problem = check(value)
            if problem:
                raise fail(f"meta.json: {key} {problem}")
    unknown = set(meta.get("crop", {})) - _CROP_KEYS
    if unknown:
        raise fail(f"meta.json: unknown key crop.{sorted(unknown)[0]}")


def _check_labels(labels: Any, fail: Callable[[str], BundleError]) -> None:
    if not isinstance(labels, list) or not labels or not all(isinstance(n, str) and n for n in labels):
        raise fail("labels.json must be a non-empty list of names")
    if len(set(labels)) != len(labels):
        raise fail("labels.json names someone twice")


def _check_arrays(kind: str, arrays: dict, n_labels: int, fail: Callable[[str], BundleError]) -> None:
    missing = [name for name in HEAD_ARRAYS[kind] if name not in arrays]
    if missing:
        raise fail(f"head.npz has no {missing[0]} (needed by a {kind} head)")
    for name, array in arrays.items():
        if array.dtype.kind not in "fiu" or (array.dtype.kind == "f" and not np.all(np.isfinite(array))):
            raise fail(f"head.npz: {name} must hold finite numbers")
    if kind == "centroid":
        centroids = arrays["centroids"]
        if centroids.ndim != 2 or len(centroids) != n_labels:
            raise fail(f"head.npz: centroids must be ({n_labels}, d) for {n_labels} labels, got {centroids.shape}")


def check_bundle_fields(meta: Any, labels: Any, arrays: dict, where: str) -> None:
    """Raise ``BundleError`` naming the first field of a loaded bundle that is missing or wrong."""
    def fail(problem: str) -> BundleError:
        return BundleError(f"model bundle {where} is invalid: {problem}")

    _check_meta(meta, fail)
    _check_labels(labels, fail)
    _check_arrays(meta["head"]["kind"], arrays, len(labels), fail)
    strangers = sorted(set(meta.get("person_thresholds", {})) - set(labels))
    if strangers:
        raise fail(f"meta.json: person_thresholds names {strangers[0]!r}, who is not in labels.json")
