"""The progress bar: rich's bar, count, rate and ETA on a terminal (a real pseudo-terminal here);
plain, throttled lines anywhere else; nothing when disabled."""

from __future__ import annotations

import os
import pty
import re
import select
import time

from facecore.progress import Progress

PLAIN = re.compile(r"^features (\d+)/(\d+) (\?|\d+\.\d)/s ETA (\?|\d+:\d\d:\d\d)$")


def run(stream, total: int, pause_s: float = 0.0, **options) -> None:
    with Progress("features", total, stream=stream, **options) as bar:
        for _ in range(total):
            time.sleep(pause_s)
            bar.update()


def test_off_a_terminal_the_lines_are_plain_throttled_and_end_with_the_final_count(tmp_path):
    path = tmp_path / "log.txt"
    with open(path, "w") as log:  # a file: not a terminal
        run(log, 2000)  # fast: only the line at the end (every_s is 5 s)
    assert path.read_text() == f"features 2000/2000 {path.read_text().split()[2]} ETA 0:00:00\n"
    with open(path, "w") as log:
        run(log, 12, pause_s=0.05, every_s=0.2)
    text = path.read_text()
    assert "\x1b" not in text and "\r" not in text and "━" not in text  # no escape codes, no bar
    lines = text.splitlines()
    assert all(PLAIN.match(line) for line in lines), lines
    assert 2 <= len(lines) <= 5  # one every 0.2 s of the ~0.6 s, and the last
    assert [int(PLAIN.match(line)[1]) for line in lines] == sorted(int(PLAIN.match(line)[1]) for line in lines)
    assert lines[-1].startswith("features 12/12 ") and lines[-1].endswith(" ETA 0:00:00")


def test_disabled_or_empty_it_prints_nothing(tmp_path):
    path = tmp_path / "log.txt"
    with open(path, "w") as log:
        run(log, 50, enabled=False, every_s=0.0)
        run(log, 0, every_s=0.0)
    assert path.read_text() == ""


def _read_all(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_on_a_terminal_rich_draws_the_bar_count_rate_and_eta_in_place():
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as terminal:
            run(terminal, 6, pause_s=0.15)
        text = _read_all(master).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert "\r\x1b[2K" in text  # drawn by rich, in place
    pictures = [p for p in re.split(r"[\r\n]+", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)) if p.strip()]
    assert re.fullmatch(r"features ━+ 6/6 \d+\.\d/s ETA 0:00:00", pictures[-1]), pictures
    assert any(re.fullmatch(r"features [━╸╺]+ [1-5]/6 \d+\.\d/s ETA 0:00:0\d", p) for p in pictures), pictures
