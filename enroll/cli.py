"""``face-enroll``: enroll people and train, evaluate and manage the model bundle."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facecore.app import (add_common_options, detach_python_stderr, exit_fast, load_command_config, print_table,
                          quiet_tensorflow, run_guarded, setup_logging, sigterm_interrupts)
from facecore.config import Config
from facecore.errors import UsageError
from facecore.files import check_output, check_output_folder, write_private
from facecore.words import counted
from facecore.workspace import GOES_ON, announce_workspace, workspace_dir

__all__ = ["main", "build_parser"]

PROG = "face-enroll"


def _config(args) -> Config:
    return load_command_config(args)


def cmd_train(args) -> int:
    config = _config(args)  # a bad config fails at once, before TensorFlow is imported
    if Path(config.train.data).is_dir():  # without it, train stops at once and writes nothing
        announce_workspace(args, config.train.model, config.train.cache_dir)
    from .training import threshold_lines, train_reporting

    result = train_reporting(sys.stderr, config, unknown=args.unknown, progress=not args.quiet, force=args.force)
    m = result.metrics
    print_table(list(result.counts.items()), ("person", "images"), sys.stdout)
    val = "n/a"
    if m["val_accuracy"] is not None:
        val = (f"{m['val_accuracy']:.3f} (closed set {m['val_closed_set_accuracy']:.3f}, "
               f"{counted(m['n_val'], 'photo')})")
    print(f"people {m['n_people']}, images {m['n_images']}, skipped {len(result.skipped)}")
    print(f"validation accuracy {val}")
    print(f"threshold {result.threshold:.4f} from {m['n_impostor']} impostor and {m['n_strangers']} stranger scores")
    for line in threshold_lines(result):
        print(line)
    print(f"bundle written to {result.path} in {result.seconds['total']:.1f} s")
    return 0


def _plot_path(args, model: Path) -> Path:
    """Where eval's confusion matrix goes: ``--plot PNG``, else ``confusion.png`` in ``--plots DIR``
    (default: the workspace). Never into the model bundle, which is replaced whole. The
    rule of every output path (:func:`facecore.files.check_output`): a folder, device or FIFO is
    refused, a link is written through, a missing folder is made now."""
    plot = Path(args.plot) if args.plot else Path(args.plots or ".") / "confusion.png"
    if plot.resolve().is_relative_to(model.resolve()):
        raise UsageError(f"{plot} is inside the model bundle {model}: write plots elsewhere (--plots DIR)")
    if not args.plot:
        check_output_folder(plot.parent, "--plots", "the plots")
    check_output(plot, "--plot" if args.plot else "--plots", "the confusion matrix", "confusion.png")
    return plot


def _person_rows(people: dict) -> list[tuple]:
    """One row per folder of eval's report: photos, enrolled, accuracy (for someone not enrolled:
    the share called unknown), closed-set accuracy (``-`` for someone not enrolled)."""
    def share(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    return [(name, p["n"], "yes" if p["enrolled"] else "no", share(p["accuracy"]), share(p["closed_set_accuracy"]))
            for name, p in people.items()]


def cmd_eval(args) -> int:
    config = _config(args)
    from .evaluation import evaluate

    model = Path(config.train.model)
    root = workspace_dir(args.workspace)
    if args.plot is None and args.plots is None and root != Path.cwd():
        args.plots = str(root)  # confusion.png goes to the workspace
    plot = _plot_path(args, model)  # checked before minutes of work
    result = evaluate(config, args.dir, model, args.unknown, progress=not args.quiet)
    report = result.report
    write_private(plot, result.confusion_png)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        far = report["unknown_false_accept_rate"]
        rows = [("accuracy", f"{report['accuracy']:.4f}"),
                ("closed_set_accuracy", f"{report['closed_set_accuracy']:.4f}"),
                ("unknown_false_accept_rate", "n/a" if far is None else f"{far:.4f}"),
                ("n", report["n"]), ("n_not_enrolled", report["n_not_enrolled"]), ("n_unknown", report["n_unknown"]),
                ("n_skipped", report["n_skipped"]), ("threshold", f"{report['threshold']:.4f}")]
        rows += [(f"threshold of {name}", f"{p['threshold']:.4f}, refuses {p['refused']} of {counted(p['n'], 'photo')}")
                 for name, p in report["person_thresholds"].items()]
        print_table(rows, ("metric", "value"), sys.stdout)
        print()
        print_table(_person_rows(report["per_person"]), ("person", "photos", "enrolled", "accuracy", "closed set"),
                    sys.stdout)
    print(f"confusion matrix written to {plot}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Enroll people and train the recognition model.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train the model from data/people/<name>/ photos")
    p.add_argument("--data", help="folder of person folders (default: train.data)")
    p.add_argument("--model", help="bundle folder to write (default: train.model)")
    p.add_argument("--unknown", metavar="DIR", help="photos of strangers, to calibrate the threshold with")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true",
                   help="replace the current bundle even when the new one looks clearly worse")
    add_common_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="measure accuracy and stranger false accepts")
    p.add_argument("dir", metavar="DIR", help="photos of enrolled people: DIR/<name>/*")
    p.add_argument("--model", help="bundle folder (default: train.model)")
    p.add_argument("--unknown", metavar="DIR2", help="photos of people never enrolled (any depth)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    plot = p.add_mutually_exclusive_group()
    plot.add_argument("--plots", metavar="DIR", help="folder for confusion.png, created (default: the workspace)")
    plot.add_argument("--plot", metavar="PNG", help="the confusion matrix's own file path, instead of --plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_common_options(p)
    p.set_defaults(func=cmd_eval, when_empty=GOES_ON)  # without a bundle it says so itself

    _add_people_commands(sub)
    return parser


def _add_people_commands(sub) -> None:
    """capture, import, list, remove (enroll/people_cli.py); review, correct (enroll/review_cli.py);
    events (enroll/events_cli.py); weights (enroll/weights_cli.py)."""
    from . import events_cli, people_cli, review_cli, weights_cli

    people_cli.register(sub)
    review_cli.register(sub)
    events_cli.register(sub)
    weights_cli.register(sub)


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow()
    args = build_parser().parse_args(argv)
    setup_logging(args.debug)
    with sigterm_interrupts():  # SIGTERM winds up like Ctrl-C: whole files, no temporary ones
        return run_guarded(PROG, lambda: args.func(args), args.debug)


def console() -> None:
    """The installed command: ``main`` on the command line, then a fast exit."""
    detach_python_stderr()
    exit_fast(main())


if __name__ == "__main__":
    console()
