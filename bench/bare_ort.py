"""Bare onnxruntime in this process: the ceiling that no server can beat.

The session gets the weight vector through ``SessionOptions.add_initializer``, as MER's worker
does, so both run the same computation. Rows per second is ``session.run`` on one preallocated
batch, as many times as fit in the given time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file

Array = np.ndarray[Any, Any]


class BareSession:
    """An onnxruntime session of ``model`` with the initializers of ``weights`` swapped in."""

    def __init__(self, model: Path, weights: Path) -> None:
        options = ort.SessionOptions()
        # The OrtValues (and their numpy buffers) must outlive the session.
        self._values = {
            name: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))
            for name, array in load_file(str(weights)).items()
        }
        for name, value in self._values.items():
            options.add_initializer(name, value)
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: Array) -> list[Any]:
        return list(self.session.run(None, {self.input_name: batch}))

    def rows_per_second(self, batch: Array, seconds: float) -> float:
        """Rows per second running ``batch`` over and over for about ``seconds``."""
        feeds = {self.input_name: batch}
        run = self.session.run
        for _ in range(3):
            run(None, feeds)
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            run(None, feeds)
            count += 1
            if count % 16 == 0 and time.perf_counter() >= deadline:
                break
        return count * len(batch) / (time.perf_counter() - start)


def rows(source: Array, batch: int) -> Array:
    """``batch`` rows taken cyclically from ``source``, contiguous float32."""
    return np.ascontiguousarray(np.resize(source, (batch, source.shape[1])), dtype=np.float32)
