"""Who is who in the clips, labelled once by hand, for measuring the clustering of ``face-enroll review``.

How these were made: face-live ran over ``biden.mp4`` and ``short_hamilton_clip.mp4`` (facenet,
only Obama enrolled, a detection on every frame and a model call every 3rd frame per track);
every face it kept was looked at, as a picture, next to the clip's frames (one sheet of
every 12th frame). A rule below says, for a face's clip, frame and box, who it shows:

- ``biden.mp4``: one person, Joe Biden, at a lectern, the whole clip;
- ``short_hamilton_clip.mp4`` (640x360):
  frames 0-41: Lin-Manuel Miranda singing on stage, far (a face of 35-50 px, right half);
  Alex Lacamoire at the piano, far left (about 23 px); from frame 20, Alex Lacamoire in a
  close-up, in profile (a face of 150 px and more);
  frames 80-210: Lin-Manuel Miranda, mid-shot;
  frames 211-275: the audience, left to right: a man at the back (box centre x below 140),
  Marian Robinson (140-260), Barack Obama (290-385), Michelle Obama (385-470).

A face no rule covers is ``None``: the test that uses these says so, and a person should
look at it and add a rule.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["who", "RULES"]

# (clip file name, first frame, last frame, box centre x from, to, box shorter side from, to, person)
RULES = [
    ("biden.mp4", 0, 10**6, 0, 10**6, 0, 10**6, "biden"),
    ("short_hamilton_clip.mp4", 0, 41, 440, 640, 20, 80, "lin_manuel_miranda"),
    ("short_hamilton_clip.mp4", 0, 41, 0, 140, 12, 40, "alex_lacamoire"),
    ("short_hamilton_clip.mp4", 18, 45, 150, 640, 120, 400, "alex_lacamoire"),
    ("short_hamilton_clip.mp4", 80, 210, 100, 420, 60, 200, "lin_manuel_miranda"),
    ("short_hamilton_clip.mp4", 211, 275, 0, 140, 40, 120, "audience_man"),
    ("short_hamilton_clip.mp4", 211, 275, 140, 260, 40, 120, "marian_robinson"),
    ("short_hamilton_clip.mp4", 211, 275, 290, 385, 40, 140, "obama"),
    ("short_hamilton_clip.mp4", 211, 275, 385, 470, 40, 140, "michelle_obama"),
]


def who(clip: str, frame: int, box) -> str | None:
    """The person a face shows: ``clip`` (a path or a file name), ``frame``, ``box`` (x1, y1, x2, y2)."""
    name = Path(clip).name
    x1, y1, x2, y2 = (float(v) for v in box)
    centre, side = (x1 + x2) / 2.0, min(x2 - x1, y2 - y1)
    for rule_clip, first, last, x_from, x_to, side_from, side_to, person in RULES:
        if rule_clip == name and first <= frame <= last and x_from <= centre < x_to and side_from <= side < side_to:
            return person
    return None
