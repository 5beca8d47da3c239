"""``face-enroll capture | import | list | remove``: the people-management commands.

Names are checked before any model is built or anything is written (a bad name
is a usage error, exit 2). Output for people is on stdout; progress and errors
go to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from facecore.app import add_common_options, load_command_config, print_table
from facecore.config import Config
from facecore.errors import DataError, ModelError, SourceError
from facecore.words import counted
from facecore.workspace import announce_workspace

from .people import existing_names, person_folder

__all__ = ["register"]


def register(sub) -> None:
    """Add the four commands to the ``face-enroll`` sub-parsers ``sub``."""
    p = sub.add_parser("capture", help="capture good, varied face images of a person from a camera or video")
    p.add_argument("name", metavar="NAME", help="the person's display name (also the folder name)")
    p.add_argument("--source",
                   help="camera index, video file, rtsp/http URL or image folder (default: camera.source, 0)")
    p.add_argument("--count", type=int, help="images to capture (default: capture.count, 10)")
    p.add_argument("--headless", action="store_true", help="no window: log progress instead")
    p.add_argument("--keep-frames", action="store_true", help="also save the full frames, in NAME/frames/")
    _data_model_train(p)
    p.set_defaults(func=cmd_capture)

    p = sub.add_parser("import", help="enroll a person from existing photos, through the same quality gate")
    p.add_argument("name", metavar="NAME", help="the person's display name (also the folder name)")
    p.add_argument("photos", metavar="FILES_OR_DIRS", nargs="+", help="photos, or folders of photos (any depth)")
    p.add_argument("--relax", action="store_true",
                   help="accept any head pose (the pose-variety rule is for live sessions; photos have no "
                        "capture time); the size, sharpness, brightness and other rules still apply")
    _data_model_train(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("list", help="enrolled people, image counts, and whether the model knows them")
    p.add_argument("--data", help="folder of person folders (default: train.data)")
    p.add_argument("--model", help="bundle folder (default: train.model)")
    p.add_argument("--corrections", action="store_true",
                   help="list the counter-examples (faces corrected with correct --not) instead")
    add_common_options(p)
    p.set_defaults(func=cmd_list, when_empty=0)

    p = sub.add_parser("remove", help="delete a person's images and cached features, then retrain")
    p.add_argument("name", metavar="NAME", help="the person to remove")
    p.add_argument("--everywhere", action="store_true",
                   help="also delete their rows in every CSV log face-live wrote, the faces it kept of them and "
                        "the review sheets; then check that no file of the workspace mentions them")
    p.add_argument("--data", help="folder of person folders (default: train.data)")
    p.add_argument("--model", help="bundle folder (default: train.model)")
    p.add_argument("--faces", help="face-live's face store (default: faces.folder)")
    p.add_argument("--log", dest="logs", action="append", default=[], metavar="PATH",
                   help="with --everywhere: also clean this CSV log (repeatable); log.path and every log "
                        "face-live recorded in log.registry are always cleaned")
    add_common_options(p)
    p.set_defaults(func=cmd_remove, when_empty=2)


def _data_model_train(p) -> None:
    p.add_argument("--data", help="folder of person folders (default: train.data)")
    p.add_argument("--model", help="bundle folder to retrain (default: train.model)")
    p.add_argument("--no-train", action="store_true", help="do not retrain afterwards")
    add_common_options(p)


def _setup(args) -> tuple[Config, Path, Path]:
    config = load_command_config(args)
    return config, Path(config.train.data), Path(config.train.model)


def _retrain(config: Config, data: Path, model: Path, detector=None, force: bool = False) -> None:
    """Retrain the bundle (other people's features come from the cache) and say how long it took."""
    from facecore.models import Models
    from facecore.runtime import runtime_backbone

    from .training import threshold_lines, train_reporting

    start = time.monotonic()
    backbone = runtime_backbone(config)
    models = Models(detector, backbone) if detector is not None else Models(_detector(config), backbone)
    built = time.monotonic() - start
    result = train_reporting(sys.stderr, config, data, model, models=models, progress=False, force=force)
    for line in threshold_lines(result):
        print(line)
    s = result.seconds
    print(f"retrained in {time.monotonic() - start:.1f} s (models {built:.1f} s, features {s['features']:.1f} s, "
          f"head and bundle {s['head'] + s['end']:.1f} s): {len(result.labels)} people, bundle at {result.path}")


def _weights_first(config: Config) -> None:
    """The backbone's weights, made sure of before anyone poses or a photo is read (VGG16's
    ImageNet weights are downloaded now when Keras does not have them)."""
    from facecore.backbones import check_weights

    try:
        check_weights(config.backbone)
    except ModelError as exc:
        raise ModelError(f"{exc} (nothing done yet; --no-train adds the photos without training)") from exc


def _retrain_kept(config: Config, data: Path, model: Path, detector, name: str) -> None:
    """``_retrain`` after photos were added; a backbone that cannot be built says they are kept."""
    try:
        _retrain(config, data, model, detector)
    except ModelError as exc:
        raise ModelError(f"the photos of {name} are kept in {data / name}; face-enroll train finishes the job "
                         f"once the backbone's weights are there: {exc}") from exc


def _detector(config: Config):
    from facecore.runtime import runtime_detector

    return runtime_detector(config)


def _print_reasons(reasons) -> None:
    if reasons:
        print("rejected, by reason:")
        width = max(len(r) for r in reasons)
        for reason, n in reasons.most_common():
            print(f"  {reason.ljust(width)}  {n}")


def cmd_capture(args) -> int:
    from .capture import capture_person, check_display

    config, data, model = _setup(args)
    name = person_folder(data, args.name).name  # a bad name (or --count, in _setup) fails here: nothing written
    if not args.headless:
        check_display()  # before building the detector: say so at once
    if not args.no_train:
        _weights_first(config)
    announce_workspace(args, data, *(() if args.no_train else (model, config.train.cache_dir)))
    detector = _detector(config)
    result = capture_person(config, name, config.camera.source, data, detector, config.capture.count,
                            args.headless, args.keep_frames)
    names = f" ({result.saved[0].name}..{result.saved[-1].name})" if result.saved else ""
    print(f"saved {len(result.saved)} of {result.wanted} images of {name} in {data / name}{names}, "
          f"{counted(result.frames, 'frame')} looked at")
    _print_reasons(result.rejected)
    if not result.saved:
        raise SourceError("no image was good enough: nothing captured (see the reasons above)")
    if not result.complete and not result.stopped:
        raise SourceError(f"the source ended with {len(result.saved)} of {result.wanted} good images; they are kept: "
                          f"capture again to add more")
    if not args.no_train:
        _retrain_kept(config, data, model, detector, name)
    return 0


def cmd_import(args) -> int:
    from .people import ImportResult, import_photos, photo_paths

    config, data, model = _setup(args)
    name = person_folder(data, args.name).name
    photos = photo_paths(args.photos)  # a missing file fails here, before the detector is built
    if not args.no_train:
        _weights_first(config)
    announce_workspace(args, data, *(() if args.no_train else (model, config.train.cache_dir)))
    detector = _detector(config)
    result = ImportResult(total=len(photos))
    try:
        import_photos(config, name, photos, data, detector, relax=args.relax, result=result)
    finally:  # also when a write fails or the import is stopped: say what was done
        _report_import(result, name, data / name)
    for line in _size_hint(result, config):
        print(line)
    if not result.saved:
        raise DataError(f"no photo of {name} passed the quality gate: nothing imported")
    if not args.no_train:
        _retrain_kept(config, data, model, detector, name)
    return 0


def _report_import(result, name: str, folder: Path) -> None:
    for path, reason in result.rejected:
        print(f"rejected {path}: {reason}")
    print(f"imported {len(result.saved)} of {result.total} photos of {name} into {folder}")
    _print_reasons(result.reasons())


def _size_hint(result, config: Config) -> list[str]:
    """What would take the photos refused for their size alone, and what it costs (none: no lines)."""
    from facecore.backbones import INPUT_SIZES

    setting, taken = result.smallest_setting()
    if not taken:
        return []
    sizes, side = result.small, INPUT_SIZES.get(config.backbone.name, 224)
    return [f"{counted(len(sizes), 'photo')} refused only for size (faces of {min(sizes):.0f} to {max(sizes):.0f} px): "
            f"import again with --set capture.min_face_px={setting} to take "
            f"{'it' if taken == 1 else f'{taken} of them'} "
            f"(the other rules still apply).",
            f"  The cost: the {config.backbone.name} backbone looks at faces scaled to {side} px, "
            f"so a {min(sizes):.0f}-px "
            f"face gives it less detail than the {config.capture.min_face_px} px asked for: recognition learnt from "
            f"such photos is less sure (lower scores, more faces left unknown or taken for someone alike). "
            f"Photos with larger faces are better."]


def cmd_list(args) -> int:
    from .people import list_people

    config, data, model = _setup(args)
    if args.corrections:
        return _list_corrections(data)
    people = list_people(data, model)
    if not people:
        print(f"nobody is enrolled in {data} (enroll someone with: face-enroll capture NAME)")
        return 0

    def when(t) -> str:
        return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else "-"

    def who(p) -> str:
        return p.name if len(p.folders) < 2 else f"{p.name} ({len(p.folders)} folders: merge them)"

    rows = [(who(p), p.images, when(p.enrolled), when(p.updated), p.in_bundle) for p in people]
    print_table(rows, ("person", "images", "enrolled", "last added", "in model"), sys.stdout)
    return 0


def _stopped(result) -> str:
    """What became of the person when ``remove`` was stopped at ``result.step``."""
    from .removal import model_state

    who = result.name or "they"
    if result.step == "model":
        return f"{who} is still enrolled: the model bundle was not changed and nothing was deleted"
    state = model_state(result.bundle, who)
    if result.step == "files":
        return f"{state}; some of their photos or cached features may be left: run the same remove again"
    return (f"{state}; their {result.removed_files} files and cached features are deleted; retraining was "
            f"stopped: train again with face-enroll train")


def _list_corrections(data: Path) -> int:
    from .corrections import list_corrections

    found = list_corrections(data)
    if not found:
        print(f"no counter-examples in {data} (make one with: face-enroll correct FACE --not NAME)")
        return 0
    rows = [(c.person, c.face or "-", c.when.astimezone().strftime("%Y-%m-%d %H:%M"), c.path) for c in found]
    print_table(rows, ("not", "face", "corrected", "file"), sys.stdout)
    print("undo one with: face-enroll correct FACE --undo (FACE: the face id, or the file)")
    return 0


def _check_removable(name: str) -> None:
    """``UsageError`` for a reserved name: strangers are forgotten with ``review --discard`` only."""
    from facecore.errors import UsageError
    from facecore.people import check_not_reserved

    try:
        check_not_reserved(name)
    except UsageError as exc:
        raise UsageError(f"{exc}; it is nobody's name and is never removed; to forget strangers' kept faces, "
                         f"use face-enroll review --discard") from None


def cmd_remove(args) -> int:
    from facecore.errors import UsageError

    from .everywhere import forget_everywhere, report_everywhere
    from .removal import RemoveResult, model_state, remove_person

    config, data, model = _setup(args)
    _check_removable(args.name)
    result = RemoveResult()
    try:
        remove_person(config, args.name, data, model, lambda: _retrain(config, data, model, force=True), result)
    except UsageError:  # not enrolled (any more): with --everywhere, their traces elsewhere still go
        if not args.everywhere:
            raise
        found = forget_everywhere(config, args.name, args.logs, enrolled=False, root=args.workspace_root)
        report_everywhere(config, args.name, found, enrolled=False)
        return 0
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C: say what became of them, then end as interrupted
        print(f"face-enroll: remove stopped: {_stopped(result)}", file=sys.stderr)
        raise
    print(f"removed {result.name}: {counted(result.removed_files, 'file')} and their cached features")
    if result.bundle == "deleted":
        print(f"deleted the model bundle {model}: nobody is left to recognise")
    if args.everywhere:
        found = forget_everywhere(config, result.name, args.logs, root=args.workspace_root)
        report_everywhere(config, result.name, found, enrolled=True)
    if result.error:
        raise DataError(f"retraining without {result.name} failed ({result.error}); "
                        f"{model_state(result.bundle, result.name)}; train again when fixed")
    if not existing_names(data):
        print(f"nobody is enrolled in {data} any more")
    return 0
