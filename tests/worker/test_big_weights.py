"""A big weight vector's round trip through a real DAL and worker stays within bounded memory.

The same round trip as ``bench/weights_200mb.py``, at 32 MiB so it runs in seconds. The ONNX
file is as big as the weights (it carries its own W, which the weights replace), so W below is
the size of either file.

Why the bound is ``start RSS + 4 x W + 48 MiB`` for each service:
- DAL: uploads stream to disk; importing the model holds the ONNX blob's bytes and its parsed
  protobuf (2 x W, measured 2.5 x W at 200 MiB); weights are checked from their header only.
- worker: keeps the weights' arrays for the session's life (1 x W; onnxruntime does not copy an
  added initializer) while onnxruntime reads and parses the ONNX file (2 x W at most, freed once
  the session is built): 3 x W, measured 3.1 x W at 200 MiB.
One more W is headroom for allocator arenas; 48 MiB covers fixed costs that do not grow with W
(the DAL imports onnx lazily on its first model import). Holding any file a further time or two
breaks the bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.weights_200mb import round_trip

MIB_SIZE = 32
FIXED_MIB = 48


@pytest.mark.slow
def test_big_weights_round_trip_is_right_and_memory_bounded(tmp_path: Path) -> None:
    found = round_trip(MIB_SIZE, tmp_path)

    assert found.answer_ok
    assert found.sha256_ok
    assert found.weights_mib == pytest.approx(MIB_SIZE, rel=0.01)
    bound = 4 * found.weights_mib + FIXED_MIB
    dal_growth = found.dal_peak_mib - found.dal_base_mib
    worker_growth = found.worker_peak_mib - found.worker_base_mib
    assert dal_growth <= bound, f"DAL grew {dal_growth:.0f} MiB; phases: {found.phases}"
    assert worker_growth <= bound, f"worker grew {worker_growth:.0f} MiB; phases: {found.phases}"
    # The first inference loaded the session: the worker really holds the weights.
    assert worker_growth >= found.weights_mib
