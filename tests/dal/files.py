"""Real test files built on the spot: a tiny ONNX graph with two initializers, safetensors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save

from tests.support.procs import MODELS_DIR

IRIS = MODELS_DIR / "iris.onnx"
DIGITS = MODELS_DIR / "digits.onnx"
DIGITS_V1 = MODELS_DIR / "digits-v1.safetensors"
DIGITS_V2 = MODELS_DIR / "digits-v2.safetensors"


def tiny_onnx() -> bytes:
    """y = x @ W + B with x [batch, 4], W [4, 3], B [3]; W and B are initializers."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W")
    b = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def weights(**tensors: np.ndarray) -> bytes:
    """A safetensors file of ``tensors``."""
    data: bytes = save(dict(tensors))
    return data


def good_tiny_weights(scale: float = 1.0) -> bytes:
    return weights(
        W=np.full((4, 3), scale, dtype=np.float32), B=np.full(3, scale, dtype=np.float32)
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(path: Path) -> bytes:
    return path.read_bytes()
