"""The scene-cut measure on real frames: the Hamilton clip's real cuts and a join of two clips are
found, at the default threshold, and nothing within a shot is."""

from __future__ import annotations

from pathlib import Path

import pytest

from facecore.camera import Camera
from facecore.config import CameraConfig
from helpers import VIDEOS, join_clips, need
from realtime.engine.scenes import CutWatch

HAMILTON_CUTS = [20, 82, 211]  # the first frames of its second, third and fourth shots (seen by eye)


def cuts_in(clip: Path, threshold: float = CameraConfig().cut_threshold) -> list[int]:
    """Indices of the frames of ``clip`` that a :class:`CutWatch` finds beginning a new shot."""
    watch = CutWatch(threshold)
    with Camera(str(clip)) as camera:
        return [frame.index for frame in camera if watch.see(frame)]


def test_the_hamilton_clips_cuts_are_found_and_nothing_else():
    assert cuts_in(need(VIDEOS / "hamilton-whitehouse/short_hamilton_clip.mp4")) == HAMILTON_CUTS


@pytest.mark.parametrize("clip", ["obama-biden/obama.mp4", "obama-biden/biden.mp4", "crowd-unknown/video.mp4"])
def test_no_cut_within_a_single_shot(clip):
    assert cuts_in(need(VIDEOS / clip)) == []


def test_a_join_of_two_clips_is_one_cut_and_threshold_zero_finds_none(tmp_path):
    clip = join_clips(need(VIDEOS / "obama-biden/obama.mp4"), need(VIDEOS / "obama-biden/biden.mp4"),
                      tmp_path / "joined.mp4", 60)
    assert cuts_in(clip) == [60]
    assert cuts_in(clip, threshold=0.0) == []


def test_between_tells_whether_a_cut_came_after_one_frame_up_to_another():
    watch = CutWatch(CameraConfig().cut_threshold)
    with Camera(str(need(VIDEOS / "hamilton-whitehouse/short_hamilton_clip.mp4"))) as camera:
        for frame in camera:
            watch.see(frame)
            watch.see(frame)  # a frame seen again is not measured again
            if frame.index == 30:
                break
    assert watch.count == 1
    assert watch.between(19, 20) and watch.between(0, 30)
    assert not watch.between(20, 30) and not watch.between(0, 19)
