"""Reading ONNX signatures and safetensors headers, and checking weights against a graph."""

from __future__ import annotations

import numpy as np
import pytest
from mer_core.errors import InvalidRequest
from mer_core.schemas.registry import TensorSpec
from mer_dal.formats.onnx_signature import read_signature
from mer_dal.formats.safetensors_header import (
    PREFIX,
    check_against,
    header_length,
    read_tensors,
)

from tests.dal.files import DIGITS, IRIS, good_tiny_weights, tiny_onnx, weights


def _tensors(data: bytes) -> list[TensorSpec]:
    length = header_length(data[:PREFIX], len(data))
    return read_tensors(data[PREFIX : PREFIX + length], len(data))


def test_tiny_signature_has_free_batch_dim_and_both_initializers() -> None:
    sig = read_signature(tiny_onnx())
    assert [t.model_dump() for t in sig.inputs] == [
        {"name": "x", "datatype": "FP32", "shape": [-1, 4]}
    ]
    assert [t.model_dump() for t in sig.outputs] == [
        {"name": "y", "datatype": "FP32", "shape": [-1, 3]}
    ]
    assert {t.name: t.shape for t in sig.initializers} == {"W": [4, 3], "B": [3]}


def test_iris_and_digits_signatures() -> None:
    iris = read_signature(IRIS.read_bytes())
    assert [(t.name, t.datatype, t.shape) for t in iris.inputs] == [("input", "FP32", [-1, 4])]
    assert [(t.name, t.datatype) for t in iris.outputs] == [
        ("label", "INT64"),
        ("probabilities", "FP32"),
    ]
    digits = read_signature(DIGITS.read_bytes())
    inits = {t.name: (t.datatype, t.shape) for t in digits.initializers}
    assert inits["coefficient"] == ("FP32", [64, 64])
    assert inits["classes"] == ("INT32", [10])


def test_not_onnx_is_a_400() -> None:
    with pytest.raises(InvalidRequest, match="not an ONNX model"):
        read_signature(b"definitely not protobuf \xff\xfe" * 10)
    with pytest.raises(InvalidRequest, match="not an ONNX model"):
        read_signature(good_tiny_weights())


def test_safetensors_header_lists_tensors() -> None:
    tensors = _tensors(good_tiny_weights())
    assert {t.name: (t.datatype, t.shape) for t in tensors} == {
        "W": ("FP32", [4, 3]),
        "B": ("FP32", [3]),
    }


@pytest.mark.parametrize(
    "data",
    [b"", b"1234567", (10**9).to_bytes(8, "little") + b"{}", (4).to_bytes(8, "little") + b"nope"],
)
def test_not_safetensors_is_a_400(data: bytes) -> None:
    with pytest.raises(InvalidRequest, match=r"not a safetensors file|no tensors"):
        _tensors(data)


def test_check_against_names_the_tensor() -> None:
    inits = read_signature(tiny_onnx()).initializers
    check_against(_tensors(good_tiny_weights()), inits)
    with pytest.raises(
        InvalidRequest, match=r"'Z' is not an initializer.*known initializers: B, W"
    ):
        check_against(_tensors(weights(Z=np.zeros(3, np.float32))), inits)
    with pytest.raises(InvalidRequest, match=r"'B' is FP16 but the model's initializer is FP32"):
        check_against(_tensors(weights(B=np.zeros(3, np.float16))), inits)
    with pytest.raises(InvalidRequest, match=r"'W' has shape \[3, 4\] but .* shape \[4, 3\]"):
        check_against(_tensors(weights(W=np.zeros((3, 4), np.float32))), inits)
