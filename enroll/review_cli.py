"""``face-enroll review | correct``: from the faces face-live kept to names, and mistakes mended.

- ``review``: the stored strangers grouped by person (a table, contact sheets, ``--json``);
  ``--name ID NAME`` (``--only``/``--except`` FACE,...) enrolls a group's most different faces
  through the import gate once they look like one person (:mod:`enroll.naming`), ``--merge A B``
  joins two groups, ``--split ID`` groups one again at a stricter distance, ``--discard ID``
  deletes a group's faces.
- ``correct FACE --not NAME``: keep a stored face as a counter-example of NAME (the next
  training gives NAME a threshold that it does not reach); ``--undo`` takes that back;
  ``--is NAME``: name it NAME, and add it to NAME's photos when it passes the import gate.
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
from facecore.words import counted

from .people import person_folder

__all__ = ["register", "not_them", "is_them"]


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
    act.add_argument("--name", nargs=2, metavar=("ID", "NAME"), help="enroll cluster ID's faces as NAME")
    act.add_argument("--discard", type=int, metavar="ID", help="delete cluster ID's faces")
    act.add_argument("--merge", nargs=2, type=int, metavar=("A", "B"), help="cluster B's faces join cluster A")
    act.add_argument("--split", type=int, metavar="ID", help="group cluster ID's faces again at a stricter distance")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--only", metavar="FACE,...", help="with --name: only these faces (ids) of the cluster")
    which.add_argument("--except", dest="leave", metavar="FACE,...", help="with --name: all but these faces")
    p.add_argument("--force", action="store_true",
                   help="with --name or --merge: go ahead although some faces do not look like the others")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (no window)")
    p.add_argument("--headless", action="store_true", help="only write the contact sheets; no window")
    p.add_argument("--sheets", help="folder for the contact sheets (default: review.sheets)")
    _where(p)
    p.set_defaults(func=cmd_review,
                   when_empty=lambda a: 2 if a.name or a.merge or a.split is not None or a.discard is not None else 0)

    p = sub.add_parser("correct", help="a stored face is not NAME (a counter-example), or is NAME (a photo)")
    p.add_argument("face", metavar="FACE", help="a stored face: its crop, a CSV row's snapshot path, or its id")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--not", dest="not_name", metavar="NAME", help="the face is not NAME")
    how.add_argument("--is", dest="is_name", metavar="NAME",
                     help="the face is NAME: relabel it, and add it to their photos if it passes the import gate")
    how.add_argument("--undo", action="store_true",
                     help="take back a --not: delete the counter-examples made of FACE "
                          "(or FACE, a counter-example's file)")
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
    if (args.only or args.leave) and not args.name:
        raise UsageError("--only and --except go with --name ID NAME")
    if args.name:
        return _name_cluster(args, config, data, model, store)
    if args.merge or args.split is not None:
        from .regroup import merge_clusters, split_cluster

        return merge_clusters(config, store, *args.merge, args.force) if args.merge else split_cluster(config, store,
                                                                                                       args.split)
    if args.discard is not None:
        return _discard_cluster(config, store, args.discard, args.workspace_root)
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
    faces = sum(len(c.faces) for c in result.clusters)
    print(f"{counted(len(result.clusters), 'cluster')} of {counted(faces, 'face')}, grouped at "
          f"cosine distance {result.distance:.3f} ({result.basis}); contact sheets in {config.review.sheets}")
    if not args.headless:
        show_sheets(result.clusters)
    return 0


def _name_cluster(args, config: Config, data: Path, model: Path, store: FaceStore) -> int:
    """``review --name ID NAME``: :func:`enroll.naming.name_cluster`, what it did said, then retrain."""
    from .naming import name_cluster
    from .people_cli import _report_import, _retrain

    number, name = _cluster_number(args.name[0]), person_folder(data, args.name[1]).name
    named = name_cluster(config, store, data, number, name, args.only, args.leave, args.force, _detector_for)
    _report_import(named.result, name, data / name)
    print(f"cluster {number} ({counted(len(named.faces), 'face')}) is now {name}"
          + (f"; {counted(len(named.rest), 'face')} left in it" if named.rest else ""))
    if not args.no_train:
        _retrain(config, data, model, named.detector)
    return 0


def _detector_for(config: Config):
    from .people_cli import _detector

    return _detector(config)


def _cluster_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--name ID NAME: ID must be a cluster number, got {text!r}") from None


def _discard_cluster(config: Config, store: FaceStore, number: int, root: Path | None = None) -> int:
    from facecore.retention import drop_faces

    from .review import forget_cluster, load_cluster

    faces = load_cluster(config, number)
    drop_faces(store, config.log.path or None, [f.id for f in faces], root)
    forget_cluster(config, number)
    print(f"discarded cluster {number}: {counted(len(faces), 'face')} deleted")
    return 0


def cmd_correct(args) -> int:
    if args.undo:
        return _undo(args)
    config, data, model, store = _setup(args)
    face = store.find(args.face, args.workspace_root)
    from .people_cli import _detector, _retrain

    detector = _detector(config)
    if args.not_name is not None:
        name = not_them(config, data, store, face, args.not_name, detector)
    else:
        name = is_them(config, data, store, face, args.is_name, detector)
    print(f"{store.image_path(face.id)} is {'not ' if args.not_name is not None else ''}{name}")
    if not args.no_train:
        _retrain(config, data, model, detector)
    return 0


def _undo(args) -> int:
    """``correct FACE --undo``: delete the counter-examples made of FACE, then retrain."""
    from .corrections import find_corrections
    from .people_cli import _retrain

    config = load_command_config(args)
    data, model = Path(config.train.data), Path(config.train.model)
    store = FaceStore(config.faces.folder) if config.faces.folder else None
    for c in find_corrections(data, args.face, store, args.workspace_root):
        c.path.unlink()
        print(f"undone: {args.face} is no longer a counter-example of {c.person} (deleted {c.path})")
    if not args.no_train:
        _retrain(config, data, model)
    return 0


def not_them(config: Config, data: Path, store: FaceStore, face: StoredFace, given: str, detector,
             say=print) -> str:
    """``correct FACE --not NAME``: keep ``face``'s picture in ``<data>/<name>/not/``; a face named so
    becomes unknown again. ``say(line)``: what was done. Returns the person's name as enrolled."""
    from facecore.images import read_image

    folder = person_folder(data, given)
    if not folder.is_dir():
        raise UsageError(f"nobody named {given!r} is enrolled in {data}")
    picture = store.image_path(face.id)
    if not len(detector.detect(read_image(picture))):
        raise DataError(f"no face can be found in {picture}: it cannot serve as a counter-example")
    target = make_private_dir(folder / NOT_THEM)
    path = target / f"{face.id}.jpg"
    if path.exists():
        raise UsageError(f"{picture} is already a counter-example of {folder.name}: {path}")
    write_private(path, picture.read_bytes(), overwrite=False)
    if face.name == folder.name:
        store.update(face, name=UNKNOWN)
    say(f"kept as a counter-example of {folder.name}: {path}")
    return folder.name


def is_them(config: Config, data: Path, store: FaceStore, face: StoredFace, given: str, detector,
            say=print) -> str:
    """``correct FACE --is NAME``: name ``face`` so (always), then try to add its picture to the
    person's photos through the import gate, judging the face at its own stored box (a group
    scene's picture shows neighbours too); a refusal is said (``say(line)``), and the face keeps
    its new name. Returns the name as enrolled."""
    from facecore.facestore import box_in_crop
    from facecore.images import read_image

    from .people import import_photos

    name = person_folder(data, given).name
    store.update(face, name=name)
    picture = store.image_path(face.id)
    boxes = None  # a record written without its box: the picture's own subject is judged
    if any(face.box):
        shape = read_image(picture).shape
        boxes = {picture: box_in_crop(face.box, shape, config.capture.image_margin, config.capture.image_px)}
    result = import_photos(config, name, [picture], data, detector, relax=True, boxes=boxes)
    if result.saved:
        say(f"relabelled and added to {name}'s photos: {result.saved[0]}")
    else:
        say(f"relabelled; not added as a photo: {result.rejected[0][1]}")
    return name
