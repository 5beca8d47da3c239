"""``face-live`` with a source or an output that cannot work fails before any model loads.

Real processes; a stand-in ``tensorflow`` package first on their path fails on import, so a
check that came only after the models (which import TensorFlow) would end with another error.
"""

from __future__ import annotations

import pytest

from helpers import REPO, VIDEOS, need, run_command

OBAMA = VIDEOS / "obama-biden" / "obama.mp4"


@pytest.fixture
def no_tensorflow(tmp_path):
    """``PYTHONPATH`` for a process in which importing TensorFlow fails."""
    package = tmp_path / "poison" / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ImportError("TensorFlow was imported")\n')
    return {"PYTHONPATH": f"{package.parent}:{REPO}"}


def _text_as_mp4(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_text("not a video, only named like one\n")
    return path


def _folder(tmp_path, name):
    (tmp_path / name).mkdir()
    return tmp_path / name


def _file(tmp_path, name):
    (tmp_path / name).write_text("a file where a folder should be\n")
    return tmp_path / name


# (arguments, exit code, the error line's words); "{t}" is the test's folder, made by ``setup``.
CASES = {
    "output-not-a-video-name": (lambda t: None, ["--output", "{t}/out.txt"], 2,
                                "--output {t}/out.txt: expected a video file name ending in .mp4, .avi, "
                                ".m4v, .mov, .mkv"),
    "output-a-folder": (lambda t: _folder(t, "videos.mp4"), ["--output", "{t}/videos.mp4"], 2,
                        "--output {t}/videos.mp4 is a folder: give a file name, such as {t}/videos.mp4/annotated.mp4"),
    "output-folder-blocked": (lambda t: _file(t, "out"), ["--output", "{t}/out/run.mp4"], 1,
                              "cannot write the video {t}/out/run.mp4: a file is in the way of its folder"),
    "log-a-folder": (lambda t: _folder(t, "logs"), ["--log", "{t}/logs"], 2,
                     "--log {t}/logs is a folder: give a file name, such as {t}/logs/log.csv"),
    "log-folder-blocked": (lambda t: _file(t, "logs"), ["--log", "{t}/logs/rec.csv"], 1,
                           "cannot write the CSV log {t}/logs/rec.csv: a file is in the way of its folder"),
    "source-text-named-mp4": (_text_as_mp4, ["--source", "{t}/clip.mp4"], 1,
                              "cannot open {t}/clip.mp4: not a video file that OpenCV can read (damaged, or not a video)"),
    "source-folder-without-images": (lambda t: _file(_folder(t, "photos"), "notes.txt"), ["--source", "{t}/photos"],
                                     1, "no images in folder {t}/photos"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_source_or_output_is_one_line_before_tensorflow_is_imported(tmp_path, no_tensorflow, case):
    setup, args, code, words = CASES[case]
    setup(tmp_path)
    args = [a.replace("{t}", str(tmp_path)) for a in args]
    defaults = {"--source": str(need(OBAMA)), "--log": str(tmp_path / "l.csv")}
    for flag, value in defaults.items():
        if flag not in args:
            args += [flag, value]
    result = run_command("realtime.cli", *args, "--headless", "--set", f"train.model={tmp_path / 'none'}",
                         env=no_tensorflow, timeout=60, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert result.stderr.strip() == "face-live: error: " + words.replace("{t}", str(tmp_path)), result.stderr


def test_a_good_source_and_outputs_get_past_the_checks_to_the_models(tmp_path, no_tensorflow):
    """The same stand-in proves the checks above ran first: with nothing wrong, TensorFlow is reached
    (the runtime that imports it, chosen here: on a CPU, LiteRT would run without it)."""
    result = run_command("realtime.cli", "--source", str(need(OBAMA)), "--headless", "--log", str(tmp_path / "l.csv"),
                         "--output", str(tmp_path / "out" / "run.mp4"), "--set", f"train.model={tmp_path / 'none'}",
                         "--set", "recognition.runtime=tensorflow", env=no_tensorflow, timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and "TensorFlow was imported" in result.stderr, result.stderr
    assert (tmp_path / "out").is_dir()  # the video's folder was made by the check
