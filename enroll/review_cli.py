"""``face-enroll review | correct``: from the faces face-live kept to names, and mistakes mended.

- ``review``: the stored strangers grouped by person (a table, contact sheets, ``--json``);
  ``--name ID NAME`` enrolls a group's best faces through the import gate, ``--discard ID``
  deletes a group's faces.
- ``correct FACE --not NAME``: keep a stored face as a counter-example of NAME (the next
  training gives NAME a threshold that it does not reach); ``--is NAME``: add it to NAME's photos.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from facecore.app import add_common_options, load_command_config, print_table
from facecore.config import Config
from facecore.errors import DataError, NothingKept, UsageError
from facecore.faces import UNKNOWN
from facecore.facestore import FaceStore, StoredFace
from facecore.files import check_output_folder, write_private
from facecore.people import NOT_THEM, make_private_dir

from .people import next_number, person_folder

__all__ = ["register"]


def _where(p) -> None:
    p.add_argument("--data", help="folder of person folders (default: train.data)")
    p.add_argument("--model", help="bundle folder to retrain (default: train.model)")
    p.add_argument("--faces", help="the face store face-live keeps faces in (default: faces.folder)")
    p.add_argument("--log", help="face-live's CSV log (default: log.path)")
    p.add_argument("--no-train", action="store_true", help="do not retrain afterwards")
    add_common_options(p)


def register(sub) -> None:
    """Add ``review`` and ``correct`` to the ``face-enroll`` sub-parsers ``sub``."""
    p = sub.add_parser("review", help="group the strangers face-live kept by person; name or discard a group")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--name", nargs=2, metavar=("ID", "NAME"), help="enroll cluster ID's best faces as NAME")
    act.add_argument("--discard", type=int, metavar="ID", help="delete cluster ID's faces")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (no window)")
    p.add_argument("--headless", action="store_true", help="only write the contact sheets; no window")
    p.add_argument("--sheets", help="folder for the contact sheets (default: review.sheets)")
    _where(p)
    p.set_defaults(func=cmd_review, when_empty=lambda a: 2 if a.name or a.discard is not None else 0)

    p = sub.add_parser("correct", help="a stored face is not NAME (a counter-example), or is NAME (a photo)")
    p.add_argument("face", metavar="FACE", help="a stored face: its crop, a CSV row's snapshot path, or its id")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--not", dest="not_name", metavar="NAME", help="the face is not NAME")
    how.add_argument("--is", dest="is_name", metavar="NAME", help="the face is NAME: add it to their photos")
    _where(p)
    p.set_defaults(func=cmd_correct, when_empty=2)


def _setup(args) -> tuple[Config, Path, Path, FaceStore]:
    config = load_command_config(args)
    if not config.faces.folder:
        raise UsageError("faces.folder is empty: face-live keeps no faces to review or correct")
    return config, Path(config.train.data), Path(config.train.model), FaceStore(config.faces.folder)


def _seen(when: str) -> str:
    from datetime import datetime

    return datetime.fromisoformat(when).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def cmd_review(args) -> int:
    try:
        config, data, model, store = _setup(args)
    except NothingKept as exc:
        if not args.json or exc.exit_code:
            raise
        print(json.dumps({"clusters": []}))  # stdout stays one JSON object
        print(exc, file=sys.stderr)
        return 0
    if args.name:
        return _name_cluster(args, config, data, model, store)
    if args.discard is not None:
        return _discard_cluster(config, store, args.discard)
    from facecore.models import Models

    from .review import review
    from .sheets import show_sheets

    check_output_folder(config.review.sheets, "--sheets", "the contact sheets", make=False)
    result = review(config, models=lambda: Models.build(config))
    if args.json:
        print(json.dumps({"clusters": [c.as_dict() for c in result.clusters]}, ensure_ascii=False))
        return 0
    if not result.clusters:
        print(f"no unknown faces are kept in {store.folder}")
        return 0
    rows = [(c.id, len(c.faces), _seen(c.first_seen), _seen(c.last_seen), ", ".join(c.sources))
            for c in result.clusters]
    print_table(rows, ("cluster", "faces", "first seen", "last seen", "sources"), sys.stdout)
    print(f"{len(result.clusters)} clusters of {sum(len(c.faces) for c in result.clusters)} faces, grouped at "
          f"cosine distance {result.distance:.3f} ({result.basis}); contact sheets in {config.review.sheets}")
    if not args.headless:
        show_sheets(result.clusters)
    return 0


def _name_cluster(args, config: Config, data: Path, model: Path, store: FaceStore) -> int:
    from .people import ImportResult, import_photos
    from .people_cli import _detector, _report_import, _retrain
    from .review import forget_cluster, load_cluster

    number, name = _cluster_number(args.name[0]), person_folder(data, args.name[1]).name
    faces = load_cluster(config, number)
    best = [store.image_path(f.id) for f in faces[:config.capture.count]]
    detector = _detector(config)
    result = ImportResult(total=len(best))
    try:
        import_photos(config, name, best, data, detector, relax=True, result=result)
    finally:
        _report_import(result, name, data / name)
    if not result.saved:
        raise DataError(f"no face of cluster {number} passed the quality gate: nothing enrolled")
    for face in faces:
        store.update(face, name=name)
    forget_cluster(config, number)
    print(f"cluster {number} ({len(faces)} faces) is now {name}")
    if not args.no_train:
        _retrain(config, data, model, detector)
    return 0


def _cluster_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--name ID NAME: ID must be a cluster number, got {text!r}") from None


def _discard_cluster(config: Config, store: FaceStore, number: int) -> int:
    from facecore.retention import drop_faces

    from .review import forget_cluster, load_cluster

    faces = load_cluster(config, number)
    drop_faces(store, config.log.path or None, [f.id for f in faces])
    forget_cluster(config, number)
    print(f"discarded cluster {number}: {len(faces)} faces deleted")
    return 0


def cmd_correct(args) -> int:
    config, data, model, store = _setup(args)
    face = store.find(args.face)
    from .people_cli import _detector, _retrain

    detector = _detector(config)
    if args.not_name is not None:
        name = _not_them(config, data, store, face, args.not_name, detector)
    else:
        name = _is_them(config, data, store, face, args.is_name, detector)
    print(f"{store.image_path(face.id)} is {'not ' if args.not_name is not None else ''}{name}")
    if not args.no_train:
        _retrain(config, data, model, detector)
    return 0


def _not_them(config: Config, data: Path, store: FaceStore, face: StoredFace, given: str, detector) -> str:
    """Keep ``face``'s picture in ``<data>/<name>/not/``; a face named so becomes unknown again."""
    from facecore.images import read_image

    folder = person_folder(data, given)
    if not folder.is_dir():
        raise UsageError(f"nobody named {given!r} is enrolled in {data}")
    picture = store.image_path(face.id)
    if not len(detector.detect(read_image(picture))):
        raise DataError(f"no face is found again in {picture}: it cannot serve as a counter-example")
    target = make_private_dir(folder / NOT_THEM)
    path = write_private(target / f"{next_number(target):04d}.jpg", picture.read_bytes(), overwrite=False)
    if face.name == folder.name:
        store.update(face, name=UNKNOWN)
    print(f"kept as a counter-example of {folder.name}: {path}")
    return folder.name


def _is_them(config: Config, data: Path, store: FaceStore, face: StoredFace, given: str, detector) -> str:
    """Add ``face``'s picture to the person's photos, through the import gate; the face is named so."""
    from .people import import_photos

    name = person_folder(data, given).name
    result = import_photos(config, name, [store.image_path(face.id)], data, detector, relax=True)
    if not result.saved:
        raise DataError(f"{store.image_path(face.id)} cannot be one of {name}'s photos: {result.rejected[0][1]}")
    store.update(face, name=name)
    print(f"added to {name}'s photos: {result.saved[0]}")
    return name
