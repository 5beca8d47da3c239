"""The People page's operations, each the code of the ``face-enroll`` command it stands for.

- :func:`people`: ``face-enroll list`` (:func:`enroll.people.list_people`) with each person's
  threshold from the bundle and the numbers of their first photos (served by number,
  :func:`photo_path`, never by a path the browser gives);
- :func:`add_photos`: ``face-enroll import NAME --relax`` (:func:`enroll.people.import_photos`),
  each refused photo with the gate's reason, under the name it was uploaded with;
- :func:`remove`: ``face-enroll remove NAME [--everywhere]`` (:func:`enroll.removal.remove_person`,
  :func:`enroll.everywhere.forget_everywhere`);
- :func:`retrain`: ``face-enroll train`` (:func:`enroll.training.train_reporting`) as a
  background job (:mod:`web.jobs`).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from facecore.bundle import read_meta
from facecore.errors import DataError, UsageError
from facecore.images import IMAGE_SUFFIXES, list_images
from facecore.models import Models
from facecore.people import NOT_THEM

from enroll.people import existing_names, import_photos, list_people, person_folder

from .desk import Desk
from .jobs import CountingBackbone, Gone, Job

__all__ = ["people", "photo_path", "add_photos", "remove", "retrain", "NothingImported", "SHOWN_PHOTOS"]

SHOWN_PHOTOS = 4  # photos shown per person


class NothingImported(DataError):
    """No uploaded photo passed the gate; ``result``: what :func:`add_photos` would have returned
    (each photo's reason in ``rejected``)."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result


def _threshold(meta: dict, name: str) -> tuple[float | None, bool]:
    """``(threshold, own)``: the person's own threshold (from counter-examples) or the bundle's."""
    own = (meta.get("person_thresholds") or {}).get(name)
    if isinstance(own, (int, float)):
        return float(own), True
    overall = meta.get("threshold")
    return (float(overall), False) if isinstance(overall, (int, float)) else (None, False)


def people(desk: Desk) -> list[dict]:
    """Everyone enrolled: ``name``, ``images`` (count), ``in_model`` (``yes``, ``no``, ``outdated``),
    ``threshold`` and whether it is their ``own``, ``corrections`` (counter-examples), ``photos``
    (the numbers of the first :data:`SHOWN_PHOTOS`, for :func:`photo_path`), ``folders``."""
    meta = read_meta(desk.model) or {}
    out = []
    for p in list_people(desk.data, desk.model):
        threshold, own = _threshold(meta, p.name)
        first = p.folders[0] if p.folders else p.name
        shown = list(range(min(SHOWN_PHOTOS, len(list_images(desk.data / first)))))
        corrections = sum(len(list_images(desk.data / f / NOT_THEM)) for f in p.folders)
        out.append({"name": p.name, "images": p.images, "in_model": p.in_bundle, "threshold": threshold,
                    "own_threshold": own, "corrections": corrections, "photos": shown, "folder": first,
                    "folders": list(p.folders)})
    return out


def photo_path(desk: Desk, folder: str, number: int) -> Path:
    """The ``number``-th photo (0-based, sorted) of the person folder named ``folder``: only a folder
    that is listed under the data folder, only a photo that is listed in it (``Gone`` otherwise)."""
    if folder not in existing_names(desk.data):
        raise Gone(f"nobody named {folder!r} is enrolled")
    photos = list_images(desk.data / folder)
    if not 0 <= number < len(photos):
        raise Gone(f"{folder} has no photo {number} (they have {len(photos)})")
    return photos[number]


def _suffix(filename: str) -> str:
    suffix = Path(filename or "").suffix.lower()
    return suffix if suffix in IMAGE_SUFFIXES else ".jpg"


def add_photos(desk: Desk, name: str, uploads: list[tuple[str, bytes]]) -> dict:
    """Import ``uploads`` (``(filename, bytes)``, already within the size caps) as photos of ``name``
    through the gate of ``face-enroll import --relax``. Returns ``name`` (as saved), ``saved`` (the
    uploaded names kept), ``rejected`` (``[filename, reason]``), ``hints`` (the size hint the CLI
    prints). ``UsageError`` for a bad name or no photo; :class:`NothingImported` when no photo
    passed."""
    from enroll.people_cli import _size_hint

    name = person_folder(desk.data, name).name  # a bad name fails before anything is read or written
    if not uploads:
        raise UsageError("choose one or more photos to upload")
    with tempfile.TemporaryDirectory(prefix="facecam-upload-") as tmp:
        given = {}
        for i, (filename, data) in enumerate(uploads):
            path = Path(tmp) / f"upload-{i:04d}{_suffix(filename)}"
            path.write_bytes(data)
            given[path] = filename or path.name
        with desk.changing():
            result = import_photos(desk.config, name, list(given), desk.data, desk.detector(), relax=True)
    refused = {path for path, _ in result.rejected}
    saved = [given[path] for path in given if path not in refused]
    out = {"name": name, "total": result.total, "saved": saved,
           "rejected": [[given[path], reason] for path, reason in result.rejected],
           "hints": _size_hint(result, desk.config)}
    if not result.saved:
        raise NothingImported(f"no photo of {name} passed the quality gate: nothing imported", out)
    return out


def remove(desk: Desk, name: str, everywhere: bool = False) -> dict:
    """``face-enroll remove NAME [--everywhere]``: ``{"name", "lines"}``, the lines the command prints;
    a retraining is started when anyone is left. Errors as the command's (``UsageError``: not
    enrolled; ``FacecamError``: a log or file that still mentions them)."""
    from enroll.everywhere import forget_everywhere, report_everywhere
    from enroll.people_cli import _check_removable
    from enroll.removal import RemoveResult, remove_person
    from facecore.words import counted

    _check_removable(name)
    lines, started, result = [], [], RemoveResult()
    with desk.changing():
        try:
            # its retraining is the background job, started once the lock is let go
            remove_person(desk.config, name, desk.data, desk.model, lambda: started.append(True), result)
        except UsageError:
            if not everywhere:
                raise Gone(f"nobody named {name!r} is enrolled") from None
            found = forget_everywhere(desk.config, name, [], enrolled=False, root=desk.root)
            report_everywhere(desk.config, name, found, enrolled=False, say=lines.append)
            return {"name": name, "lines": lines}
        lines.append(f"removed {result.name}: {counted(result.removed_files, 'file')} and their cached features")
        if result.bundle == "deleted":
            lines.append(f"deleted the model bundle {desk.model}: nobody is left to recognise")
        if everywhere:
            found = forget_everywhere(desk.config, result.name, [], root=desk.root)
            report_everywhere(desk.config, result.name, found, enrolled=True, say=lines.append)
    if started:
        retrain(desk, force=True)
        lines.append("retraining without them: see its progress below")
    return {"name": result.name, "lines": lines}


def retrain(desk: Desk, force: bool = False) -> Job:
    """Start ``face-enroll train`` as the background job (``Busy`` when one runs); ``force``: replace
    the bundle even when the new one looks worse (as ``remove`` does)."""
    return desk.jobs.start("retraining", lambda job: _train(desk, job, force))


def _train(desk: Desk, job: Job, force: bool) -> str:
    """The retraining job: wait for the lock, build the models when needed, train; the line saying so."""
    from enroll.training import threshold_lines, train_reporting

    job.step = "waiting for other changes"
    with desk.changing(wait=600.0):
        if not existing_names(desk.data):
            raise DataError("nobody is enrolled: add someone's photos first")
        job.step = "building the models"
        models = desk.models()
        job.step = "computing features and training"
        counting = Models(models.detector, CountingBackbone(models.backbone, job))
        skipped = io.StringIO()
        result = train_reporting(skipped, desk.config, desk.data, desk.model, models=counting, progress=False,
                                 force=force)
    left_out = skipped.getvalue().count("skipped ")
    notes = "; ".join(threshold_lines(result))
    return (f"retrained in {result.seconds['total']:.1f} s: {len(result.labels)} people "
            f"({', '.join(result.labels)}), threshold {result.threshold:.3f}"
            + (f"; {left_out} photos left out" if left_out else "") + (f"; {notes}" if notes else ""))
