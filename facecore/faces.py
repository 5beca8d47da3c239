"""``Faces``: the one data object carried from the detector to the overlay and the CSV log."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Faces", "UNKNOWN", "PENDING"]

UNKNOWN = "unknown"
PENDING = "…"


def _col(values, dtype, n: int, shape: tuple, what: str) -> np.ndarray:
    arr = np.zeros((n, *shape), dtype=dtype) if values is None else np.asarray(values, dtype=dtype)
    if arr.shape != (n, *shape):
        raise ValueError(f"Faces.{what}: expected shape {(n, *shape)}, got {arr.shape}")
    return arr


@dataclass(frozen=True)
class Faces:
    """Faces found in one frame, in frame pixel coordinates.

    - ``boxes``: ``(n, 4)`` float32, ``x1, y1, x2, y2`` with ``x2 > x1`` and ``y2 > y1``.
    - ``scores``: ``(n,)`` float32 detection confidences in [0, 1].
    - ``landmarks``: ``(n, 5, 2)`` float32 ``(x, y)`` of left eye, right eye, nose,
      mouth left, mouth right (as the image shows them).
    - ``names``: ``(n,)`` object array of str, ``""`` until recognised.
    - ``confidences``: ``(n,)`` float32 recognition scores (0 until recognised).
    - ``track_ids``: ``(n,)`` int64, ``-1`` until tracked.
    - ``data``: more columns by name, each an array of ``n`` rows (like supervision's
      ``Detections.data``): the live loop's ``carried``, ``stale`` and ``fresh`` (bool) and ``source``
      (str) travel here.

    Validated on creation; ``faces[mask]`` and ``faces[indices]`` select rows of every column.
    """

    boxes: np.ndarray
    scores: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    names: np.ndarray | None = None
    confidences: np.ndarray | None = None
    track_ids: np.ndarray | None = field(default=None)
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        boxes = (np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4) if np.size(self.boxes)
                 else np.zeros((0, 4), np.float32))
        n = len(boxes)
        if n and not (np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])):
            raise ValueError("Faces.boxes: every box needs x2 > x1 and y2 > y1")
        if not np.all(np.isfinite(boxes)):
            raise ValueError("Faces.boxes: values must be finite")
        object.__setattr__(self, "boxes", boxes)
        scores = self.scores if self.scores is not None else np.ones(n)
        object.__setattr__(self, "scores", _col(scores, np.float32, n, (), "scores"))
        object.__setattr__(self, "landmarks", _col(self.landmarks, np.float32, n, (5, 2), "landmarks"))
        names = np.array([""] * n if self.names is None else list(self.names), dtype=object).reshape(n)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "confidences", _col(self.confidences, np.float32, n, (), "confidences"))
        ids = self.track_ids if self.track_ids is not None else np.full(n, -1)
        object.__setattr__(self, "track_ids", _col(ids, np.int64, n, (), "track_ids"))
        columns = {}
        for name, values in dict(self.data).items():
            column = np.asarray(values)
            if column.ndim == 0 or len(column) != n:
                raise ValueError(f"Faces.data[{name!r}]: expected {n} rows, got shape {column.shape}")
            columns[name] = column
        object.__setattr__(self, "data", columns)

    @classmethod
    def empty(cls) -> "Faces":
        return cls(np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> "Faces":
        index = np.asarray(index)
        if index.dtype == bool and index.shape != (len(self),):
            raise IndexError(f"Faces mask: expected shape ({len(self)},), got {index.shape}")
        index = np.atleast_1d(index)
        return Faces(
            self.boxes[index],
            self.scores[index],
            self.landmarks[index],
            self.names[index],
            self.confidences[index],
            self.track_ids[index],
            {name: column[index] for name, column in self.data.items()},
        )

    def with_(self, **changes) -> "Faces":
        """A copy with some columns replaced (validated again)."""
        return replace(self, **changes)

    def with_data(self, **columns) -> "Faces":
        """A copy with ``data`` columns added or replaced; a scalar fills every row."""
        filled = {k: np.full(len(self), v, dtype=object if isinstance(v, str) else None) if np.ndim(v) == 0 else v
                  for k, v in columns.items()}
        return replace(self, data={**self.data, **filled})

    def column(self, name: str, default) -> np.ndarray:
        """``data[name]``, or ``default`` in every row when there is no such column."""
        return self.data[name] if name in self.data else np.full(len(self), default)

    @property
    def sizes(self) -> np.ndarray:
        """``(n,)`` float32: the shorter side of each box."""
        return np.minimum(self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1])

    @property
    def areas(self) -> np.ndarray:
        return (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])

    def scaled(self, factor: float) -> "Faces":
        """Boxes and landmarks multiplied by ``factor`` (map a downscaled frame back)."""
        return self.with_(boxes=self.boxes * factor, landmarks=self.landmarks * factor)
