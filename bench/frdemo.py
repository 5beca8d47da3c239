"""A peer for whole-process timings: the shape of face_recognition's webcam demo, on a file.

Its demo loop: known faces encoded from one photo each at start; then on every other frame
the frame is shrunk to a quarter, faces are found with dlib's HOG detector, encoded, and
compared with the known encodings (tolerance 0.6, the nearest match wins); boxes and names
are drawn on every frame. Here the frames come from a video file, the window is left out
(headless, as ``face-live --headless``), and the run stops after ``--max-frames``. Needs
``face_recognition`` (``pip install dlib-bin face-recognition-models``, then
``pip install --no-deps face-recognition``).

    python -m bench.frdemo --source CLIP --people DIR [--max-frames N]

``DIR`` holds one folder of photos per person, as facecam's ``data/people``. Prints one line
on stdout: frames, seconds of the frame loop, and the names seen.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def known_faces(people: Path) -> tuple[list, list[str]]:
    """One encoding per person folder: the first photo in which a face is found."""
    import face_recognition

    encodings, names = [], []
    for folder in sorted(p for p in people.iterdir() if p.is_dir()):
        for photo in sorted(folder.iterdir()):
            found = face_recognition.face_encodings(face_recognition.load_image_file(str(photo)))
            if found:
                encodings.append(found[0])
                names.append(folder.name)
                break
    return encodings, names


def name_faces(small_rgb: np.ndarray, known: list, names: list[str]) -> tuple[list, list[str]]:
    """Boxes (top, right, bottom, left, on the small frame) and names of the faces in it."""
    import face_recognition

    boxes = face_recognition.face_locations(small_rgb)
    labels = []
    for encoding in face_recognition.face_encodings(small_rgb, boxes):
        label = "Unknown"
        if known:
            distances = face_recognition.face_distance(known, encoding)
            best = int(np.argmin(distances))
            if distances[best] <= 0.6:
                label = names[best]
        labels.append(label)
    return boxes, labels


def run(source: str, people: Path, max_frames: int) -> tuple[int, float, set]:
    known, names = known_faces(people)
    capture = cv2.VideoCapture(source)
    frames, seen, boxes, labels = 0, set(), [], []
    start = time.perf_counter()
    while not max_frames or frames < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        if frames % 2 == 0:  # every other frame, as the demo does
            small = cv2.resize(frame, (0, 0), fx=0.25, fy=0.25)
            boxes, labels = name_faces(np.ascontiguousarray(small[:, :, ::-1]), known, names)
            seen.update(labels)
        for (top, right, bottom, left), label in zip(boxes, labels):
            top, right, bottom, left = top * 4, right * 4, bottom * 4, left * 4
            cv2.rectangle(frame, (left, top), (right, bottom), (0, 0, 255), 2)
            cv2.putText(frame, label, (left + 6, bottom - 6), cv2.FONT_HERSHEY_DUPLEX, 1.0, (255, 255, 255), 1)
        frames += 1
    capture.release()
    return frames, time.perf_counter() - start, seen - {"Unknown"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.frdemo", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, help="video file")
    p.add_argument("--people", required=True, type=Path, help="one folder of photos per person")
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: the whole file)")
    args = p.parse_args(argv)
    frames, seconds, seen = run(args.source, args.people, args.max_frames)
    print(f"{frames} frames in {seconds:.2f} s; names: {','.join(sorted(seen)) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
