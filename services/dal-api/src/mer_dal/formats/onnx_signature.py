"""The signature of an ONNX model: its inputs, outputs and replaceable initializers.

Only the graph's declarations are read (names, element types, shapes); nothing runs. A free
dimension (symbolic or unknown) is ``-1``. Initializers that are also graph inputs are inputs a
caller may feed, not weights, so they are left out of ``initializers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mer_core.datatypes import BY_ONNX_ELEM
from mer_core.errors import InvalidRequest
from mer_core.schemas.registry import TensorSpec


@dataclass(frozen=True)
class Signature:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    initializers: list[TensorSpec]


def read_signature(data: bytes) -> Signature:
    """The signature of the ONNX file ``data``; a 400 naming the problem if it is not one."""
    import onnx  # slow to import; only model imports need it

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises DecodeError, RuntimeWarning-ish errors, ValueError
        raise InvalidRequest(f"not an ONNX model: {_headline(exc)}") from exc
    graph = model.graph
    if model.ir_version <= 0 or not graph.output:
        raise InvalidRequest("not an ONNX model: it has no IR version or no graph outputs")
    initializer_names = {init.name for init in graph.initializer}
    inputs = [_value_spec(v, "input") for v in graph.input if v.name not in initializer_names]
    outputs = [_value_spec(v, "output") for v in graph.output]
    input_names = {v.name for v in graph.input}
    initializers = [
        TensorSpec(
            name=init.name,
            datatype=_datatype(init.data_type, f"initializer {init.name!r}"),
            shape=[int(d) for d in init.dims],
        )
        for init in graph.initializer
        if init.name not in input_names
    ]
    return Signature(inputs=inputs, outputs=outputs, initializers=initializers)


def _value_spec(value: Any, role: str) -> TensorSpec:
    what = f"{role} {value.name!r}"
    if value.type.WhichOneof("value") != "tensor_type":
        kind = value.type.WhichOneof("value") or "an unknown type"
        raise InvalidRequest(
            f"the model's {what} is a {kind.removesuffix('_type')}, not a tensor: "
            "MER serves models whose inputs and outputs are tensors"
        )
    tensor = value.type.tensor_type
    shape = (
        [int(d.dim_value) if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        if tensor.HasField("shape")
        else []
    )
    return TensorSpec(name=value.name, datatype=_datatype(tensor.elem_type, what), shape=shape)


def _datatype(elem_type: int, what: str) -> Any:
    try:
        return BY_ONNX_ELEM[elem_type].oip
    except KeyError:
        raise InvalidRequest(
            f"the model's {what} has ONNX element type {elem_type}, which MER does not support"
        ) from None


def _headline(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
