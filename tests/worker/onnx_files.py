"""Small real ONNX graphs built on the spot with onnx.helper, and safetensors weight files."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save


def _model(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data


def affine(w: np.ndarray, b: np.ndarray) -> bytes:
    """y = x @ W + B; x [batch, k] FP32, W [k, n] and B [n] initializers."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["y"]),
        ],
        "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", w.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", w.shape[1]])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    return _model(graph)


def gather() -> bytes:
    """y = table[i]: an index past the table's 10 rows makes onnxruntime fail the run."""
    table = np.arange(20, dtype=np.float32).reshape(10, 2)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "i"], ["y"])],
        "gather",
        [helper.make_tensor_value_info("i", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(table, "table")],
    )
    return _model(graph)


def doubler() -> bytes:
    """y = 2 * x with x [batch, n], n free: requests with different n must never be merged."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"])],
        "doubler",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "n"])],
        [numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")],
    )
    return _model(graph)


def echo_text() -> bytes:
    """y = x for a string tensor [batch]."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "echo",
        [helper.make_tensor_value_info("x", TensorProto.STRING, ["batch"])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, ["batch"])],
    )
    return _model(graph)


def safetensors_of(**tensors: np.ndarray) -> bytes:
    data: bytes = save(dict(tensors))
    return data
