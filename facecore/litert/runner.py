"""One converted model run by LiteRT's interpreter, for inputs of any batch or image size.

LiteRT (``ai-edge-litert``) runs ``.tflite`` files without TensorFlow: importing it costs
hundredths of a second where TensorFlow costs seconds, and a process using it stays some
hundreds of MB smaller.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from ..app import native_stderr_silenced
from ..errors import ModelError

__all__ = ["Runner"]


class Runner:
    """The model in the ``.tflite`` file at ``path``, run on ``threads`` CPU threads.

    ``runner(*inputs)`` takes one array per model input (in the converted model's input order,
    each cast to the input's dtype) and returns one array per output (in its signature's output
    order: ``output_0``, ``output_1``, ...). Its tensors are resized and allocated again only
    when an input's shape changes. Calls from several threads take turns.
    """

    def __init__(self, path: str | os.PathLike, threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        try:
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=max(1, int(threads)))
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT cannot load {self.path}: {exc}".splitlines()[0]) from exc
        self._inputs = self._interpreter.get_input_details()
        self._outputs = _ordered_outputs(self._interpreter)
        self._shapes: list[tuple] | None = None
        self._lock = threading.Lock()

    @property
    def input_shapes(self) -> list[tuple]:
        """Each input's shape as converted, ``-1`` where any size goes (e.g. ``(-1, 160, 160, 3)``)."""
        return [tuple(int(d) for d in i.get("shape_signature", i["shape"])) for i in self._inputs]

    @property
    def output_shapes(self) -> list[tuple]:
        """Each output's shape as converted, ``-1`` where it follows an input's size."""
        details = {d["index"]: d for d in self._interpreter.get_output_details()}
        return [tuple(int(x) for x in details[i].get("shape_signature", details[i]["shape"])) for i in self._outputs]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """The outputs for ``inputs`` (see the class docstring), as arrays of their own."""
        if len(inputs) != len(self._inputs):
            raise ValueError(f"{self.path.name} takes {len(self._inputs)} inputs, got {len(inputs)}")
        arrays = [np.ascontiguousarray(x, dtype=d["dtype"]) for x, d in zip(inputs, self._inputs)]
        with self._lock:
            shapes = [a.shape for a in arrays]
            if shapes != self._shapes:
                self._allocate(shapes)
            for detail, array in zip(self._inputs, arrays):
                self._interpreter.set_tensor(detail["index"], array)
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(index) for index in self._outputs]


    def _allocate(self, shapes: list[tuple]) -> None:
        """Resize the inputs to ``shapes`` and allocate the tensors (the first time, with LiteRT's
        line about its CPU delegate kept off the terminal)."""
        for detail, shape in zip(self._inputs, shapes):
            self._interpreter.resize_tensor_input(detail["index"], list(shape), strict=False)
        if self._shapes is None:
            with native_stderr_silenced():
                self._interpreter.allocate_tensors()
        else:
            self._interpreter.allocate_tensors()
        self._shapes = shapes


def _ordered_outputs(interpreter) -> list[int]:
    """The output tensors' indices in the order of the model's signature (``output_0``, ...), which
    follows the outputs of the model that was converted; the interpreter's own order otherwise."""
    signatures = interpreter.get_signature_list()
    if len(signatures) == 1:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        details = runner.get_output_details()
        names = sorted(details, key=lambda n: (len(n), n))  # output_2 before output_10
        indices = [details[n]["index"] for n in names]
        if sorted(indices) == sorted(d["index"] for d in interpreter.get_output_details()):
            return indices
    return [d["index"] for d in interpreter.get_output_details()]
