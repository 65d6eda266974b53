"""One table of tensor element types, in every spelling MER meets.

The Open Inference Protocol name (``FP32``) is MER's own; the others are translations at the
edges: numpy dtypes (tensors), onnxruntime type strings (``tensor(float)``), ONNX
``TensorProto`` element ids (graph parsing) and safetensors dtype names (weight vectors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mer_core.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Datatype:
    oip: str
    numpy: np.dtype[np.generic] | None
    ort: str
    onnx_elem: int
    safetensors: str | None


_TABLE: tuple[Datatype, ...] = (
    Datatype("BOOL", np.dtype(np.bool_), "tensor(bool)", 9, "BOOL"),
    Datatype("UINT8", np.dtype(np.uint8), "tensor(uint8)", 2, "U8"),
    Datatype("UINT16", np.dtype(np.uint16), "tensor(uint16)", 4, "U16"),
    Datatype("UINT32", np.dtype(np.uint32), "tensor(uint32)", 12, "U32"),
    Datatype("UINT64", np.dtype(np.uint64), "tensor(uint64)", 13, "U64"),
    Datatype("INT8", np.dtype(np.int8), "tensor(int8)", 3, "I8"),
    Datatype("INT16", np.dtype(np.int16), "tensor(int16)", 5, "I16"),
    Datatype("INT32", np.dtype(np.int32), "tensor(int32)", 6, "I32"),
    Datatype("INT64", np.dtype(np.int64), "tensor(int64)", 7, "I64"),
    Datatype("FP16", np.dtype(np.float16), "tensor(float16)", 10, "F16"),
    Datatype("BF16", None, "tensor(bfloat16)", 16, "BF16"),
    Datatype("FP32", np.dtype(np.float32), "tensor(float)", 1, "F32"),
    Datatype("FP64", np.dtype(np.float64), "tensor(double)", 11, "F64"),
    Datatype("BYTES", np.dtype(np.object_), "tensor(string)", 8, None),
)

BY_OIP: dict[str, Datatype] = {d.oip: d for d in _TABLE}
BY_ORT: dict[str, Datatype] = {d.ort: d for d in _TABLE}
BY_ONNX_ELEM: dict[int, Datatype] = {d.onnx_elem: d for d in _TABLE}
BY_SAFETENSORS: dict[str, Datatype] = {d.safetensors: d for d in _TABLE if d.safetensors}
BY_NUMPY: dict[np.dtype[np.generic], Datatype] = {d.numpy: d for d in _TABLE if d.numpy is not None}


def from_oip(name: str) -> Datatype:
    """The datatype named ``name`` in the Open Inference Protocol, or a clear 400."""
    try:
        return BY_OIP[name]
    except KeyError:
        known = ", ".join(BY_OIP)
        raise InvalidRequest(f"unknown datatype {name!r}; expected one of {known}") from None


def from_numpy(dtype: np.dtype[np.generic]) -> Datatype:
    """The OIP datatype of a numpy dtype; unicode and bytes arrays are BYTES."""
    if dtype.kind in "USO":
        return BY_OIP["BYTES"]
    try:
        return BY_NUMPY[dtype]
    except KeyError:
        message = f"numpy dtype {dtype} has no Open Inference Protocol datatype"
        raise InvalidRequest(message) from None
