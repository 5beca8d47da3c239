"""Overlay drawing on constructed faces (and on a real frame: labels over the stats box, text scaled to
a grid tile), and device selection (real CPU; the GPU path mocked)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from facecore.config import OverlayConfig
from facecore.errors import ConfigError, FacecamError
from facecore.faces import PENDING, UNKNOWN, Faces
from realtime.engine.device import Device, select_device
from realtime.window.overlay import COLOURS, Mosaic, Overlay, draw_label, label_text


def count_colour(image: np.ndarray, colour) -> int:
    return int(np.all(image == np.array(colour, np.uint8), axis=2).sum())


def test_each_state_has_its_colour_and_label():
    scene = np.full((300, 600, 3), 60, np.uint8)
    faces = Faces(
        np.array([[20, 60, 120, 180], [160, 60, 260, 180], [300, 60, 400, 180], [440, 60, 540, 180]], np.float32),
        names=["ann", UNKNOWN, PENDING, "bob"], confidences=[0.91, 0.2, 0.0, 0.8], track_ids=[1, 2, 3, 4],
    )
    out = Overlay(OverlayConfig()).annotate(scene, faces.with_data(stale=np.array([False, False, False, True])))
    assert np.all(scene == 60)  # the input is not drawn on
    for kind in ("known", "unknown", "pending", "stale"):
        assert count_colour(out, COLOURS[kind]) > 400, kind
    left_half_of_box_1 = out[60:181, 20:121]
    assert count_colour(left_half_of_box_1, COLOURS["known"]) > 400
    assert label_text("ann", 0.912, 1) == "ann 0.91 #1"
    assert label_text(PENDING, 0.0, 3) == "... #3"
    assert label_text(UNKNOWN, 0.0, 5) == "unknown #5"
    assert label_text("bob", 0.8, 4, stale=True) == "bob 0.80 #4 (stale)"


def test_boxes_at_the_frame_edge_are_clamped_and_labelled_inside():
    scene = np.zeros((100, 100, 3), np.uint8)
    faces = Faces(np.array([[-30, -20, 50, 60]], np.float32), names=["ann"], confidences=[0.9], track_ids=[1])
    out = Overlay(OverlayConfig()).annotate(scene, faces)
    assert count_colour(out[:40], COLOURS["known"]) > 100  # the label sits inside the box at the top


def test_panel_darkens_a_corner_and_writes_white_text():
    scene = np.full((200, 300, 3), 200, np.uint8)
    out = Overlay(OverlayConfig()).panel(scene.copy(), ["display 30.0 fps", "detect 12 ms"], "bottom-left")
    assert out[-5, 2].max() < 100 and out[5, 2].min() == 200
    assert count_colour(out[100:], (255, 255, 255)) > 20


def test_select_device_on_this_machine_matches_what_tensorflow_sees():
    import tensorflow as tf

    device = select_device("auto", runtime="tensorflow")
    if tf.config.list_physical_devices("GPU"):
        assert device.kind == "gpu" and device.description.startswith("GPU:0")
    else:
        assert (device.kind, device.name, device.description) == ("cpu", "CPU:0", "CPU")
        with pytest.raises(FacecamError, match="no GPU"):
            select_device("gpu", runtime="tensorflow")


@pytest.mark.parametrize("choice, runtime, gpu", [("cpu", "auto", True), ("auto", "auto", False),
                                                  ("auto", "litert", True)])
def test_select_device_for_litert_never_asks_tensorflow(monkeypatch, choice, runtime, gpu):
    monkeypatch.setattr("facecore.runtime.gpu_visible", lambda environ: gpu)
    monkeypatch.setattr("realtime.engine.device.load_tensorflow", lambda: pytest.fail("TensorFlow was loaded"))
    assert select_device(choice, runtime=runtime) == Device("cpu", "CPU:0", "CPU (LiteRT)")


def test_select_device_refuses_a_gpu_for_litert():
    with pytest.raises(ConfigError, match="runs on the CPU only"):
        select_device("gpu", runtime="litert")


class FakeTfConfig:
    """Stands in for ``tf.config`` on a machine with GPUs (there is no GPU here to test on)."""

    def __init__(self, gpus):
        self.gpus, self.growth, self.visible = list(gpus), {}, None
        self.experimental = SimpleNamespace(set_memory_growth=lambda gpu, on: self.growth.__setitem__(gpu, on))

    def list_physical_devices(self, kind):
        return self.gpus if kind == "GPU" else ["cpu0"]

    def set_visible_devices(self, devices, kind):
        self.visible = (list(devices), kind)


def test_gpu_mocked_auto_turns_on_memory_growth_on_every_gpu():
    fake = FakeTfConfig(["gpu0", "gpu1"])
    device = select_device("auto", tf_config=fake)
    assert fake.growth == {"gpu0": True, "gpu1": True}
    assert (device.kind, device.name) == ("gpu", "GPU:0")
    assert device.description == "GPU:0 (memory growth on, 2 GPUs visible)"
    assert fake.visible is None


def test_gpu_mocked_cpu_choice_hides_the_gpus():
    fake = FakeTfConfig(["gpu0"])
    assert select_device("cpu", tf_config=fake).description == "CPU"
    assert fake.visible == ([], "GPU") and fake.growth == {}


def test_gpu_mocked_growth_refused_after_initialisation_is_reported():
    fake = FakeTfConfig(["gpu0"])

    def refuse(gpu, on):
        raise RuntimeError("Physical devices cannot be modified after being initialized")

    fake.experimental = SimpleNamespace(set_memory_growth=refuse)
    assert select_device("gpu", tf_config=fake).description == "GPU:0 (memory growth off)"


def _real_frame() -> np.ndarray:
    """The first frame of the real 1280x720 Biden clip, RGB."""
    import cv2

    from helpers import VIDEOS, need

    capture = cv2.VideoCapture(str(need(VIDEOS / "obama-biden" / "biden.mp4")))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (720, 1280, 3)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _label_height(image: np.ndarray, box: np.ndarray) -> int:
    """The height in pixels of the ``known``-coloured label drawn just above ``box`` (x1, y1, x2, y2):
    from the first to the last row above the box's top edge holding a run of that colour (within
    40) 10 px wide or more."""
    x1, y1, x2, _ = (int(v) for v in box)
    region = image[:y1 - 1, x1:x2].astype(int)
    near = np.all(np.abs(region - np.array(COLOURS["known"])) <= 40, axis=2)
    rows = [i for i, row in enumerate(near) if np.convolve(row, np.ones(10), "valid").max() >= 10]
    return rows[-1] - rows[0] + 1 if rows else 0


def test_a_label_at_the_top_left_is_drawn_over_the_stats_box_not_under_it():
    frame = _real_frame()
    faces = Faces(np.array([[12, 30, 200, 260]], np.float32), names=["biden"], confidences=[0.9], track_ids=[1])
    overlay = Overlay(OverlayConfig())
    stats = ["display 25.0 fps  recognition 8.0 fps", "detect 40 ms  crop 1 ms  infer 30 ms"]
    out = overlay.annotate(frame, faces, stats)
    x1, y1, x2, y2 = draw_label(np.zeros_like(frame), label_text("biden", 0.9, 1), 12, 30,
                                COLOURS["known"], OverlayConfig().font_scale)
    label = out[y1:y2, x1:x2]
    assert count_colour(label, COLOURS["known"]) > 0.5 * label.shape[0] * label.shape[1]
    panel = overlay.panel(np.full_like(frame, 200), stats)
    drawn = np.any((overlay.annotate(np.zeros_like(frame), faces) > 0)  # the face's box and label
                   | (overlay.annotate(np.full_like(frame, 255), faces) < 255), axis=2)
    shaded = np.all(panel == 60, axis=2) & ~drawn  # the stats box, but its text and the face's drawing
    assert shaded.sum() > 1000 and np.all(out[shaded] == (frame[shaded].astype(np.uint16) * 3 // 10))


def test_text_on_a_frame_shrunk_into_a_grid_tile_is_as_tall_as_on_a_frame_shown_whole():
    import cv2

    frame = _real_frame()
    box = np.array([[500, 200, 800, 560]], np.float32)
    faces = Faces(box, names=["biden"], confidences=[0.9], track_ids=[1])
    mosaic = Mosaic(4, Overlay(OverlayConfig()))  # 2x2 tiles of 640x360: the frame is halved
    tile = mosaic.cell("podium", mosaic.overlay_for(frame.shape).annotate(frame, faces))
    small = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
    whole = Overlay(OverlayConfig()).annotate(small, Faces(box / 2, names=["biden"], confidences=[0.9], track_ids=[1]))
    shown, expected = _label_height(tile, box[0] / 2), _label_height(whole, box[0] / 2)
    assert expected > 10 and abs(shown - expected) <= 0.2 * expected, (shown, expected)
    bigger = Mosaic(1, Overlay(OverlayConfig()), size=(1280, 720)).overlay_for(frame.shape)
    assert bigger == Overlay(OverlayConfig())  # a frame shown at its size is drawn as configured
