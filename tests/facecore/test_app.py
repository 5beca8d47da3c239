"""What the command front ends share: the fast exit after a finished command."""

from __future__ import annotations

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
