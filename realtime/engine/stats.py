"""Speed figures: frame rates and per-stage milliseconds for the overlay, and a run's report."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

from facecore.words import counted

from .pipeline import StageTimes

__all__ = ["Rate", "Stats", "RunReport"]

_SMOOTHING = 0.1  # weight of the newest sample in the moving averages


class Rate:
    """Events per second, as an exponential moving average of the intervals between ``tick()``s."""

    def __init__(self, clock=time.perf_counter) -> None:
        self._clock = clock
        self._last: float | None = None
        self._interval: float | None = None

    def tick(self) -> None:
        now = self._clock()
        if self._last is not None:
            gap = now - self._last
            self._interval = gap if self._interval is None else (1 - _SMOOTHING) * self._interval + _SMOOTHING * gap
        self._last = now

    @property
    def per_second(self) -> float:
        return 1.0 / self._interval if self._interval else 0.0


class Stats:
    """What the overlay's corner shows: display and recognition FPS, detect/crop/infer ms."""

    def __init__(self) -> None:
        self.display = Rate()
        self.recognition = Rate()
        self._ms = {"detect": None, "crop": None, "infer": None}
        self._lock = threading.Lock()

    def shown(self) -> None:
        self.display.tick()

    def step(self, times: StageTimes) -> None:
        """Count one recognition step; stages that did not run keep their last average."""
        self.recognition.tick()
        with self._lock:
            for name, value in (("detect", times.detect_ms), ("crop", times.crop_ms), ("infer", times.infer_ms)):
                if value is not None:
                    old = self._ms[name]
                    self._ms[name] = value if old is None else (1 - _SMOOTHING) * old + _SMOOTHING * value

    def milliseconds(self) -> dict:
        with self._lock:
            return dict(self._ms)

    def lines(self) -> list[str]:
        ms = self.milliseconds()
        stages = "  ".join(f"{k} {'-' if v is None else f'{v:.0f}'} ms" for k, v in ms.items())
        return [f"display {self.display.per_second:.1f} fps  recognition {self.recognition.per_second:.1f} fps", stages]


@dataclass
class RunReport:
    """``frames``: frames shown or written, all sources together (``sources``: per source, its
    ``frames``, ``fps`` and ``status``); ``steps``: engine steps (detect/track each source with a
    new frame); ``model_calls``: steps with one batched model call, for ``faces_recognized``
    faces in all; ``seconds``: wall time of
    the frame loop (after warm-up); ``first_name_s``/``first_name_frame``: when the first name was
    confirmed (``None``: never); ``rows``: CSV rows; ``ended``: ``end``, ``quit``, ``signal`` or
    ``max-frames``; ``rows_unwritten``: rows due that the CSV log could not take, and
    ``log_error`` why (``""``: the log worked at the end); ``cpu_s``: processor time of the whole
    process during the loop; per source, ``name_latency_s``: seconds from each named track's
    first appearance to its first name, and ``cuts``: the scene cuts found; ``startup``:
    ``models_s``, the seconds until the models were ready (``None``: the run ended before), and
    ``parts``, the seconds of each part; ``error``: why the run failed (``""``: it did not), said
    after the summary and the report are written."""

    frames: int = 0
    steps: int = 0
    model_calls: int = 0
    faces_recognized: int = 0
    seconds: float = 0.0
    first_name_s: float | None = None
    first_name_frame: int | None = None
    rows: int = 0
    ended: str = ""
    rows_unwritten: int = 0
    log_error: str = ""
    sources: dict = field(default_factory=dict)
    cpu_s: float = 0.0
    startup: dict = field(default_factory=dict)
    error: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "fps": round(self.fps, 3)}

    def summary(self) -> str:
        unwritten = f" ({self.rows_unwritten} NOT written)" if self.rows_unwritten else ""
        first = "no name confirmed" if self.first_name_s is None else (
            f"first name after {self.first_name_s:.2f} s (frame {self.first_name_frame})")
        line = (f"{counted(self.frames, 'frame')} in {self.seconds:.2f} s ({self.fps:.1f} fps), "
                f"{counted(self.steps, 'step')}, {counted(self.model_calls, 'model call')} for "
                f"{counted(self.faces_recognized, 'face')}, {first}, {counted(self.rows, 'row')} logged{unwritten}; "
                f"stopped: {self.ended}")
        if len(self.sources) > 1:
            line += "".join(f"\n  {name}: {counted(s['frames'], 'frame')} ({s['fps']:.1f} fps)"
                            f"{', ' + s['status'] if s['status'] else ''}" for name, s in self.sources.items())
        return line
