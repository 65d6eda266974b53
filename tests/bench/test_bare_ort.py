"""Bare onnxruntime with the weight vector swapped in: the right answers, and a rate."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from bench.bare_ort import BareSession, rows
from bench.stack import ONNX_FILE, WEIGHTS_FILE
from tests.support.procs import MODELS_DIR


def test_rows_repeat_the_source_cyclically() -> None:
    source = np.arange(6, dtype=np.float64).reshape(3, 2)
    got = rows(source, 5)
    assert got.dtype == np.float32
    assert got.flags["C_CONTIGUOUS"]
    assert got.tolist() == [[0, 1], [2, 3], [4, 5], [0, 1], [2, 3]]


def test_weights_v2_change_the_answers_and_v1_matches_the_exported_graph() -> None:
    holdout = np.load(MODELS_DIR / "digits-holdout.npz")
    x, y = holdout["X"].astype(np.float32), holdout["y"]
    v1 = BareSession(ONNX_FILE, WEIGHTS_FILE).run(x)
    v2 = BareSession(ONNX_FILE, MODELS_DIR / "digits-v2.safetensors").run(x)
    plain = ort.InferenceSession(str(ONNX_FILE), providers=["CPUExecutionProvider"]).run(
        None, {"input": x}
    )
    assert np.array_equal(v1[0], plain[0])  # the ONNX file was exported with v1
    assert not np.allclose(v1[1], v2[1])
    assert (v1[0] == y).mean() > 0.9


def test_rows_per_second_is_a_positive_rate() -> None:
    bare = BareSession(ONNX_FILE, WEIGHTS_FILE)
    batch = rows(np.ones((1, 64), dtype=np.float32), 32)
    rate = bare.rows_per_second(batch, 0.2)
    assert rate > 1000
