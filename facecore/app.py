"""What the command-line front ends share: quiet TensorFlow, logging, errors -> exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NoReturn, Sequence, TextIO

from .bundle import read_meta, trained_backbone
from .config import Config, apply_values, given_keys, load_config
from .errors import FacecamError, NothingKept
from .workspace import check_workspace, in_workspace, workspace_dir

__all__ = [
    "quiet_tensorflow", "load_tensorflow", "detach_python_stderr", "native_stderr_silenced", "setup_logging",
    "run_guarded", "exit_fast", "print_table",
    "Terminated", "sigterm_interrupts", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "load_command_config", "FLAG_KEYS",
    "add_common_options", "is_terminal",
]

# Command-line flags that stand for a config key: given, they win over the file and --set.
FLAG_KEYS = {
    "source": "camera.sources", "model": "train.model", "data": "train.data", "log": "log.path",
    "device": "recognition.device", "count": "capture.count",
    "faces": "faces.folder", "sheets": "review.sheets", "ray_address": "ray.address",
}

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM (see :func:`sigterm_interrupts`). A ``KeyboardInterrupt``, so
    that every clean-up written for Ctrl-C (temporary files removed, devices released) runs."""


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside, SIGTERM raises :class:`Terminated` in the main thread, as Ctrl-C raises
    ``KeyboardInterrupt``; further SIGTERMs are ignored while the command winds up, so that its
    clean-up is not cut short (SIGKILL still ends it). Outside the main thread: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter (before importing it) and FFmpeg's messages about
    damaged video or unreachable streams off the user's terminal: facecam says it in one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def load_tensorflow() -> None:
    """Import TensorFlow (and look for GPUs) once, with the C++ start-up lines that its
    own settings cannot silence kept off the terminal (see :func:`native_stderr_silenced`).
    A second caller, on another thread, waits for the first one's import to finish."""
    with _TF_LOCK:
        if _TF_READY.is_set():
            return
        with native_stderr_silenced(), _hidden("sklearn"):
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        _TF_READY.set()


_TF_LOCK = threading.Lock()
_TF_READY = threading.Event()


@contextmanager
def _hidden(module: str) -> Iterator[None]:
    """Inside, ``import module`` fails as if it were not installed (unless it is imported already).

    TensorFlow imports Keras, and Keras imports scikit-learn for its scikit-learn wrappers alone,
    which facecam never uses: 1.2 s of a 7 s import here. Afterwards scikit-learn imports as
    usual for the code that needs it (clustering, calibration)."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None  # the import system's "not importable" marker
    try:
        yield
    finally:
        if sys.modules.get(module, 0) is None:
            del sys.modules[module]


def detach_python_stderr() -> None:
    """Make Python's ``sys.stderr`` write to its own copy of file descriptor 2.

    Native libraries (TensorFlow's C++ runtime, absl, CUDA, Ray's core) write to descriptor 2
    directly, whatever their log settings. Once detached, :func:`native_stderr_silenced` can
    point descriptor 2 at /dev/null while the models load on a thread, and the messages
    facecam prints meanwhile (logging included) still reach the terminal. Called once, by the
    installed commands, before logging is set up.
    """
    try:
        sys.stderr.flush()
        copy = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no descriptor 2 (a closed or odd stderr)
        return
    sys.stderr = open(copy, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                      errors="backslashreplace")


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Inside, what native code writes to file descriptor 2 goes to /dev/null (shown at DEBUG
    level, with ``--debug``). Python's ``sys.stderr`` goes there too unless it was detached
    (:func:`detach_python_stderr`). Nested and concurrent uses are counted: the descriptor is
    restored when the last one ends."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    with _SILENCE_LOCK:
        if _SILENCED[0] == 0:
            _flush_quietly(sys.stderr)
            _SILENCED[1] = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _SILENCED[0] += 1
    try:
        yield
    finally:
        with _SILENCE_LOCK:
            _SILENCED[0] -= 1
            if _SILENCED[0] == 0:
                _flush_quietly(sys.stderr)
                os.dup2(_SILENCED[1], 2)
                os.close(_SILENCED[1])


_SILENCE_LOCK = threading.Lock()
_SILENCED = [0, -1]  # open uses of native_stderr_silenced, and the saved descriptor 2


def _flush_quietly(stream) -> None:
    try:
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--set`` and ``--debug``, taken by every command."""
    parser.add_argument("--config", metavar="FILE", help="TOML config file (see configs/default.toml)")
    parser.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[], dest="overrides",
                        help="override one config value; repeatable, applied last")
    parser.add_argument("--debug", action="store_true", help="print tracebacks and debug logs")
    parser.add_argument("--workspace", metavar="DIR",
                        help="the folder holding data/, models/ and logs/; the config's relative paths lie in it "
                             "(default: $FACECAM_HOME, else the current folder)")


def load_command_config(args: Any) -> Config:
    """The config a command runs with, in one place, by one rule: the defaults, then ``--config``
    FILE, then the flags of ``FLAG_KEYS`` that ``args`` has and were given, then ``--set``
    overrides, last (a flag is not applied when ``--set`` gives its key). Unless the backbone was
    chosen (``backbone.name``/``weights`` in the file or ``--set``), it is the one the bundle at
    ``train.model`` was trained with, so that retraining or running never switches backbones by
    accident. The config's relative storage paths lie in the workspace (``--workspace``,
    ``FACECAM_HOME``, or the current folder); the flags' paths are taken as typed."""
    path, overrides = getattr(args, "config", None), getattr(args, "overrides", [])
    root = workspace_dir(getattr(args, "workspace", None))
    args.workspace_root = root  # where the CSV's snapshot cells are relative to
    config = in_workspace(load_config(path, overrides), root)
    overridden = given_keys(None, overrides)
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag, None)
        if key == "camera.sources" and isinstance(value, str):  # face-enroll's one --source
            value = [value]
        if value is not None and value != [] and key not in overridden:
            config = apply_values(config, {key: value}, f"--{flag}")
    check_workspace(args, config, root)
    if not {"backbone.name", "backbone.weights"} & given_keys(path, overrides):
        trained = trained_backbone(read_meta(config.train.model))
        if trained is not None:
            config = config.replace(backbone=trained)
    return config


class _PlainLines(logging.Formatter):
    """The terminal's one style: news as a plain line, a warning or an error after its level in
    words (``warning: ...``), like the commands' own messages."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr: plain lines, or with ``verbose`` (``--debug``) every record with its time,
    level and logger, down to debug."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s") if verbose
                         else _PlainLines("%(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    for noisy in ("tensorflow", "absl", "matplotlib", "PIL", "h5py"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def run_guarded(prog: str, func: Callable[[], int | None], debug: bool = False) -> int:
    """Run ``func``; turn errors into one line on stderr and the contract's exit code.

    0 success, 1 runtime failure, 2 usage or configuration error, 130 interrupted (SIGINT,
    Ctrl-C), 143 terminated (SIGTERM, see :func:`sigterm_interrupts`). With ``debug`` the
    traceback is printed as well.
    """
    try:
        return int(func() or 0)
    except FacecamError as exc:
        if isinstance(exc, NothingKept) and not exc.exit_code:  # nothing to show: the answer, on stdout
            print(exc)
            return 0
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # last resort: one readable line instead of a traceback
        if debug:
            traceback.print_exc()
        message = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{prog}: error: {type(exc).__name__}: {message} (run with --debug for details)", file=sys.stderr)
        return 1


def exit_fast(code: int) -> NoReturn:
    """End a finished command with ``code``. With TensorFlow loaded, skip the interpreter's
    clean-up, which spends about 1.5 s unloading it and changes nothing on disk: every file
    is closed by then; standard streams and log handlers are flushed here first."""
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        _flush_quietly(stream)
    os._exit(code)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a stream without ``isatty``, or a closed one, is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def print_table(rows: Sequence[Sequence], header: Sequence[str], stream: TextIO | None = None) -> None:
    """Print ``rows`` under ``header`` in columns aligned by their width on screen (a CJK
    character takes two cells), numbers right-aligned, on ``stream`` (default stdout).

    On a terminal the header is bold and ruled off. Anywhere else (a pipe, a file) the
    table is plain text: no colour codes, no rule, one line per row, columns two spaces
    apart and no trailing spaces. Cells are shown as they are (``[b]`` is not markup).
    """
    from rich import box
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    stream = stream if stream is not None else sys.stdout
    terminal = is_terminal(stream)
    cells = [[str(c) for c in row] for row in [header, *rows]]
    needed = sum(max(cell_len(row[i]) for row in cells) for i in range(len(header))) + 2 * (len(header) - 1)
    console = Console(file=stream, force_terminal=terminal, width=None if terminal else needed,
                      highlight=False, markup=False, emoji=False)
    table = Table(box=box.SIMPLE_HEAD if terminal else None, show_edge=False, pad_edge=False,
                  header_style="bold" if terminal else "")
    for i, title in enumerate(header):
        numeric = rows and all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in rows)
        table.add_column(Text(str(title)), justify="right" if numeric else "left", overflow="fold")
    for row in cells[1:]:
        table.add_row(*map(Text, row))
    with console.capture() as captured:
        console.print(table)
    stream.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    stream.flush()
