"""``face-enroll remove NAME``: a person out of the model first, then their files, then a retrain.

The model comes first, so that whatever stops the command later (no backbone weights, a
full disk, SIGTERM) leaves their photos behind at worst, never their face in the model.
Every spelling of the name (:func:`facecore.people.person_key`: another Unicode form, another
case) is the same person: all their folders and cached features go.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from facecore.bundle import Bundle, bundle_exists, delete_bundle, load_bundle, save_bundle
from facecore.config import Config
from facecore.errors import BundleError, StorageError, UsageError
from facecore.features import FeatureCache
from facecore.people import check_not_reserved, group_spellings, person_key

from .people import existing_names

__all__ = ["RemoveResult", "remove_person", "forget_in_bundle", "model_state", "bundle_labels"]

log = logging.getLogger(__name__)


@dataclass
class RemoveResult:
    """What ``remove`` did, filled as it goes (after an interrupt it holds what was done).

    ``bundle``: ``retrained`` (a new bundle without them), ``stripped`` (retraining failed:
    they were taken out of the bundle directly), ``withdrawn`` (retraining failed and the bundle,
    which could not be edited, was deleted), ``kept`` (retraining failed; the bundle did not hold
    them), ``deleted`` (nobody left), ``none`` (nobody left, and there was no bundle); while it
    runs: ``stripped``, ``withdrawn`` or ``absent`` once the model step is done, ``""`` before.
    ``error``: why retraining failed; ``step``: ``model``, ``files``, ``retrain`` or ``done``;
    ``name``: the enrolled spelling; ``folders``: their folders under the data folder."""

    removed_files: int = 0
    bundle: str = ""
    error: str = ""
    step: str = "model"
    name: str = ""
    folders: list = field(default_factory=list)


def _meta_without(meta: dict, names: set) -> dict:
    """``meta`` with every table keyed by people (image counts, per-person thresholds and their
    costs) without ``names``."""
    def drop(table: object) -> object:
        return {k: v for k, v in table.items() if k not in names} if isinstance(table, dict) else table

    metrics = meta.get("metrics", {})
    if isinstance(metrics, dict) and "person_thresholds" in metrics:
        metrics = {**metrics, "person_thresholds": drop(metrics["person_thresholds"])}
    out = {**meta, "metrics": metrics}
    for key in ("people", "person_thresholds"):
        if key in meta:
            out[key] = drop(meta[key])
    return out


def forget_in_bundle(model: str | os.PathLike, name: str) -> str:
    """Take ``name`` (under every spelling of it, :func:`facecore.people.person_key`) out of the
    bundle at ``model`` without retraining: ``stripped`` (a centroid head loses their rows; the
    others keep theirs and the threshold), ``withdrawn`` (any other head, or a bundle that cannot
    be read or rewritten, is deleted: it may hold them) or ``absent`` (no bundle, or not in it).
    ``OSError`` when the bundle can be neither rewritten nor deleted (a read-only folder)."""
    if not bundle_exists(model):
        return "absent"
    try:
        bundle = load_bundle(model)
    except BundleError:
        delete_bundle(model)
        return "withdrawn"
    theirs = {label for label in bundle.labels if person_key(label) == person_key(name)}
    if not theirs:
        return "absent"
    keep = [i for i, label in enumerate(bundle.labels) if label not in theirs]
    if bundle.meta["head"]["kind"] != "centroid" or not keep:
        delete_bundle(model)
        return "withdrawn"
    meta = _meta_without(bundle.meta, theirs)
    try:
        kept = Bundle({"centroids": bundle.arrays["centroids"][keep]}, [bundle.labels[i] for i in keep], meta)
        save_bundle(model, kept)
    except OSError as exc:  # a full disk: deleting is what is left
        log.warning("cannot rewrite the model bundle without %s (%s): deleting it", name, exc.strerror or exc)
        delete_bundle(model)
        return "withdrawn"
    return "stripped"


def bundle_labels(model: str | os.PathLike) -> list[str]:
    """The names in the bundle at ``model``; none when there is no bundle or it cannot be read."""
    try:
        return load_bundle(model).labels if bundle_exists(model) else []
    except BundleError:
        return []


def _enrolled(name: str, data: str | os.PathLike, model: Path) -> tuple[str, list[str]]:
    """The enrolled spelling of ``name`` (NFC first) and its folders under ``data``; ``UsageError``
    for a reserved name or one that nobody has in ``data`` or in the bundle."""
    check_not_reserved(name)
    folders = [n for n in existing_names(data) if person_key(n) == person_key(name)]
    labels = [n for n in bundle_labels(model) if person_key(n) == person_key(name)]
    if not folders and not labels:
        raise UsageError(f"nobody named {name!r} is enrolled in {data}")
    return next(iter(group_spellings(folders or labels))), folders


def _take_out_of_model(model: Path, result: RemoveResult) -> None:
    try:
        result.bundle = forget_in_bundle(model, result.name)
    except OSError as exc:
        still = any(person_key(n) == person_key(result.name) for n in bundle_labels(model))
        held = "the model bundle still recognises them" if still else "the model bundle no longer holds them"
        raise StorageError(f"cannot change the model bundle {model} ({exc.strerror or exc}): {result.name} is "
                           f"still enrolled ({held}); none of their photos was deleted") from None


def _delete_folders(data: Path, cache: FeatureCache, result: RemoveResult) -> None:
    """Delete the person's folders (photos, frames, counter-examples) and cached features, counting
    the files deleted into ``result``; ``StorageError`` saying what is left."""
    for name in result.folders:
        folder = data / name
        files = [p for p in folder.rglob("*") if p.is_file()]
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            left = sum(1 for p in files if p.exists())
            result.removed_files += len(files) - left
            raise StorageError(f"cannot delete {folder} ({exc.strerror or exc}): {left} of their files are "
                               f"still there; {model_state(result.bundle, result.name)}") from None
        result.removed_files += len(files)
    try:
        cache.remove_person(result.name)
    except OSError as exc:
        raise StorageError(f"cannot delete the cached features of {result.name} in {cache.root} "
                           f"({exc.strerror or exc}); their photos are deleted; "
                           f"{model_state(result.bundle, result.name)}") from None


def model_state(bundle: str, name: str) -> str:
    """What became of the model bundle, for :attr:`RemoveResult.bundle` after the model step."""
    return {"stripped": f"{name} was taken out of the model bundle directly (the others keep their templates)",
            "withdrawn": "the model bundle was deleted, as it could not be edited without them",
            }.get(bundle, "the model bundle did not hold them")


def remove_person(config: Config, name: str, data: str | os.PathLike, model: str | os.PathLike,
                  retrain, result: RemoveResult | None = None) -> RemoveResult:
    """Remove ``name`` (every folder of theirs, whatever Unicode form or case it is spelled in)
    from the model, then delete their images, frames and cached features, then ``retrain()``
    without them. ``result``, when given, is filled as it goes (see :class:`RemoveResult`).

    The model comes first: from the start the bundle no longer holds them (taken out of it,
    or deleted), so a failure later (no backbone weights, a full disk, an interrupt) can
    leave their photos behind, never their face in the model. Failures are ``StorageError``
    saying what became of them.
    """
    result = result if result is not None else RemoveResult()
    data, model = Path(data), Path(model)
    result.name, result.folders = _enrolled(name, data, model)
    _take_out_of_model(model, result)
    result.step = "files"
    _delete_folders(data, FeatureCache(config.train.cache_dir, ""), result)
    result.step = "retrain"
    if not existing_names(data):
        had = delete_bundle(model)
        result.bundle, result.step = "deleted" if had or result.bundle != "absent" else "none", "done"
        return result
    try:
        retrain()
    except Exception as exc:  # the model is already without them; say why it was not retrained
        result.error = (str(exc).splitlines() or [type(exc).__name__])[0]
        result.bundle = result.bundle if result.bundle != "absent" else "kept"
    else:
        result.bundle = "retrained"
    result.step = "done"
    return result
