"""What the command front ends share: the fast exit after a finished command, TensorFlow loaded lean."""

from __future__ import annotations

import pytest

import os
import subprocess
import sys

from helpers import REPO

_SCRIPT = """
import logging, sys, types
sys.modules.setdefault("tensorflow", types.ModuleType("tensorflow"))  # as after a real import
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
open(sys.argv[1], "w").close()
print("the table", end="")          # buffered: stdout is a file here
logging.getLogger("x").info("the last log line")
from facecore.app import exit_fast
import atexit
atexit.register(lambda: open(sys.argv[1], "w").write("clean-up ran"))
exit_fast(3)
"""


def test_exit_fast_keeps_the_exit_code_and_flushes_output_but_skips_clean_up(tmp_path):
    out, err, marker = tmp_path / "out.txt", tmp_path / "err.txt", tmp_path / "marker"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        code = subprocess.run([sys.executable, "-c", _SCRIPT, str(marker)], stdout=stdout, stderr=stderr,
                              cwd=REPO, timeout=60).returncode
    assert code == 3
    assert out.read_text() == "the table"
    assert "the last log line" in err.read_text()
    assert marker.read_text() == ""  # the interpreter's clean-up (atexit, unloading modules) was skipped


def test_exit_fast_without_tensorflow_is_a_normal_exit(tmp_path):
    marker = tmp_path / "marker"
    script = _SCRIPT.replace('sys.modules.setdefault("tensorflow", types.ModuleType("tensorflow"))', "pass")
    code = subprocess.run([sys.executable, "-c", script, str(marker)], capture_output=True, cwd=REPO,
                          timeout=60).returncode
    assert code == 3 and marker.read_text() == "clean-up ran"


def _column_starts(lines: list[str], cells: list[str]) -> list[int]:
    """The display column (terminal cells, a CJK character counts 2) where ``cells[i]`` starts in ``lines[i]``."""
    from rich.cells import cell_len

    return [cell_len(line[: line.index(cell)]) for line, cell in zip(lines, cells)]


def test_print_table_aligns_wide_characters_by_display_width_in_plain_text():
    import io

    from facecore.app import print_table

    out = io.StringIO()
    rows = [("王小明", 3, "2024-01-02"), ("Ann", 12, "2024-03-04"), ("[b]Zoë[/b]", 1000, "-")]
    print_table(rows, ("person", "images", "enrolled"), out)
    text = out.getvalue()
    lines = text.splitlines()
    assert "\x1b" not in text and len(lines) == 4  # no colour codes, no rule: header and rows only
    assert [line.split()[0] for line in lines] == ["person", "王小明", "Ann", "[b]Zoë[/b]"]  # no markup read
    assert len(set(_column_starts(lines, ["enrolled", "2024-01-02", "2024-03-04", "-"]))) == 1
    ends = [start + len(cell) for start, cell in zip(_column_starts(lines, ["images", "3", "12", "1000"]),
                                                     ["images", "3", "12", "1000"])]
    assert len(set(ends)) == 1  # numbers right-aligned
    assert all(line == line.rstrip() for line in lines)


def test_print_table_on_a_terminal_has_a_bold_ruled_header(tmp_path):
    """Under a pseudo-terminal the header is styled and ruled off; the rows still align."""
    import os
    import pty

    script = ("from facecore.app import print_table\n"
              "print_table([('王小明', 3), ('Ann', 12)], ('person', 'images'))\n")
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-c", script])
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.waitpid(pid, 0)
    text = b"".join(chunks).decode()
    lines = text.splitlines()
    assert "\x1b[1m" in lines[0] and set(lines[1]) == {"─"}
    three, twelve = _column_starts(lines[2:], ["  3", " 12"])  # as long as each other: same start, same end
    assert three == twelve


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_scikit_learn_imports_as_usual_after_tensorflow_was_loaded_without_it(tmp_path):
    """load_tensorflow keeps Keras from importing scikit-learn (its wrappers are never used);
    afterwards scikit-learn imports normally, for clustering and calibration."""
    code = ("import sys\nfrom facecore.app import load_tensorflow\nload_tensorflow()\n"
            "assert 'tensorflow' in sys.modules and 'sklearn' not in sys.modules\n"
            "from sklearn.cluster import AgglomerativeClustering\nprint('ok', AgglomerativeClustering.__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "AgglomerativeClustering"]


_LOGGING = """
import logging, sys
from facecore.app import setup_logging
setup_logging(verbose=sys.argv[1] == "1")
logging.getLogger("enroll.training").warning("skipped 2 photos")
logging.getLogger("facecore.camera").error("the camera is gone")
logging.getLogger("enroll.training").info("trained")
logging.getLogger("enroll.training").debug("details")
"""


def test_log_lines_read_like_the_commands_own_and_debug_shows_where_they_come_from():
    def run(verbose: str) -> str:
        done = subprocess.run([sys.executable, "-c", _LOGGING, verbose], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert run("0").splitlines() == ["warning: skipped 2 photos", "error: the camera is gone", "trained"]
    verbose = run("1").splitlines()
    assert [line.split(" ", 2)[2] for line in verbose] == [
        "WARNING enroll.training: skipped 2 photos", "ERROR facecore.camera: the camera is gone",
        "INFO enroll.training: trained", "DEBUG enroll.training: details"]
