"""Issue 6, bad input through the real commands: config files, damaged model bundles, names,
and images too large to decode whole. Each is one readable line on stderr, the contract's exit
code, nothing written; none of these loads a model, so each real process takes a second or two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from enroll.cli import main as enroll_main
from facecore.bundle import Bundle, save_bundle
from helpers import REPO, run_command


def one_line(result, prog: str, code: int) -> str:
    """The single error line of a finished command (exit ``code``), without the prefix."""
    err = result.stderr.strip()
    assert result.returncode == code, result.stderr
    assert "\n" not in err and "Traceback" not in err, result.stderr
    assert err.startswith(f"{prog}: error: "), err
    return err.removeprefix(f"{prog}: error: ")


@pytest.mark.parametrize("toml, words", [
    ("[head]\ncolour = 'red'\n", "unknown key head.colour"),
    ("[train]\nmin_images = 'two'\n", "train.min_images must be an integer, got 'two'"),
    ("[capture]\nimage_px = -320\n", "capture.image_px must be >= 64, got -320"),
    ("[recognition]\nthreshold = 1.5\n", "recognition.threshold must be <= 1.0, got 1.5"),
    ("[recognition]\ntarget_far = -0.1\n", "recognition.target_far must be > 0.0, got -0.1"),
    ("[camera]\nreconnect_backoff_s = -1\n", "camera.reconnect_backoff_s must be >= 0.0, got -1.0"),
])
@pytest.mark.parametrize("command", [["enroll.cli", "train"], ["realtime.cli", "--headless"]],
                         ids=["face-enroll", "face-live"])
def test_a_bad_config_file_exits_2_naming_file_and_key(tmp_path, command, toml, words):
    config = tmp_path / "site.toml"
    config.write_text(toml)
    result = run_command(*command, "--config", str(config), timeout=60, cwd=tmp_path)
    prog = "face-enroll" if command[0] == "enroll.cli" else "face-live"
    message = one_line(result, prog, 2)
    assert message.startswith(f"{config}: ") and words in message
    assert list(tmp_path.iterdir()) == [config]  # nothing written


def _bundle(path, **meta):
    head = {"centroids": np.eye(2, dtype=np.float32)}
    base = {"backbone": {"name": "vgg16", "input_size": 224, "weights_id": "imagenet"}, "head": {"kind": "centroid"},
            "crop": {"margin": 0.2, "align": True}, "threshold": 0.5}
    return save_bundle(path, Bundle(head, ["ann", "bob"], {**base, **meta}))


def _damage_meta(path, **changes):
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, **changes}))


@pytest.mark.parametrize("damage, words", [
    (lambda p: (p / "head.npz").unlink(), "is incomplete: missing head.npz"),
    (lambda p: (p / "labels.json").write_bytes(b"\x00\xff\x00garbage"), "is corrupt"),
    (lambda p: (p / "head.npz").write_bytes((p / "head.npz").read_bytes()[:40]), "is corrupt"),
    (lambda p: _damage_meta(p, format_version=99), "has format version 99; this facecam reads up to 1: upgrade facecam"),
    (lambda p: _damage_meta(p, backbone={"name": "facenet", "input_size": 160, "weights_id": "sha256:0"}),
     "the model bundle was trained with backbone 'facenet', but the config asks for 'vgg16'"),
], ids=["partly-deleted", "corrupt-labels", "truncated-arrays", "newer-format", "other-backbone"])
def test_face_live_with_a_damaged_bundle_is_one_line(tmp_path, damage, words):
    model = _bundle(tmp_path / "model")
    damage(model)
    result = run_command("realtime.cli", "--model", str(model), "--source", str(tmp_path), "--headless",
                         "--log", "", timeout=120, cwd=tmp_path)
    assert words in one_line(result, "face-live", 1)


def test_loading_a_bundle_runs_no_code_from_it(tmp_path):
    """A pickle that would write a file when loaded, put where the head's arrays belong."""
    model = _bundle(tmp_path / "model")
    marker = tmp_path / "pwned"
    payload = ("import os, pickle\n"
               "class P:\n    def __reduce__(self):\n        return (os.system, ('touch " + str(marker) + "',))\n"
               "import numpy as np\n"
               f"np.savez(open('{model / 'head.npz'}', 'wb'), centroids=np.array([P()], dtype=object))\n")
    subprocess.run([sys.executable, "-c", payload], check=True)
    result = run_command("realtime.cli", "--model", str(model), "--source", str(tmp_path), "--headless",
                         "--log", "", timeout=120, cwd=tmp_path)
    assert "is corrupt" in one_line(result, "face-live", 1)
    assert not marker.exists()


@pytest.mark.parametrize("name", [" ann", "ann ", "a\\b", "ann\u200b", "\x1b[31mred", "ann\nbob", "ANN"])
def test_names_with_edge_spaces_invisible_or_control_characters_or_another_case_exit_2(tmp_path, capsys, name):
    data = tmp_path / "people"
    (data / "ann").mkdir(parents=True)
    assert enroll_main(["import", name, str(tmp_path), "--data", str(data), "--no-train"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("face-enroll: error: ") and len(err.splitlines()) == 1
    assert sorted(p.name for p in data.iterdir()) == ["ann"] and list((data / "ann").iterdir()) == []


_READ_HUGE = textwrap.dedent("""
    import sys
    from facecore.images import read_image

    def megabytes(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024

    open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts again from here
    before = megabytes("VmRSS")
    image = read_image(sys.argv[1], max_side=2048)
    print(image.shape[0], image.shape[1], megabytes("VmHWM") - before)
""")


def test_a_huge_photo_is_read_downscaled_without_decoding_it_whole(tmp_path):
    """A 48-megapixel JPEG (192 MB as Pillow holds RGB pixels): read at most 2048 px on a side, the
    peak memory growing by well under the full picture: it is decoded at half scale (JPEG draft
    mode) and shrunk before any other copy is made."""
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 6000), (90, 140, 200)).save(path, quality=70)
    done = subprocess.run([sys.executable, "-c", _READ_HUGE, str(path)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    height, width, grew_mb = map(int, done.stdout.split())
    assert (height, width) == (1536, 2048)
    assert grew_mb < 100, f"peak memory grew by {grew_mb} MB"


def test_a_decompression_bomb_is_refused_in_one_line(tmp_path):
    from facecore.errors import ImageError
    from facecore.images import read_image

    path = tmp_path / "bomb.png"
    Image.new("1", (10_000, 10_000)).save(path)  # 100 megapixels in a few kilobytes
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageError) as err:
        read_image(path)
    assert str(err.value) == f"{path}: image too large to decode safely"
