"""The header of a safetensors file: tensor names, dtypes and shapes, read without the tensors.

The format: 8 bytes little-endian header length N, N bytes of JSON
(``{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``), then the
tensor bytes. ``check_against`` compares a weight vector to the initializers of a model's graph.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from mer_core.datatypes import BY_OIP, BY_SAFETENSORS
from mer_core.errors import InvalidRequest
from mer_core.schemas.registry import TensorSpec

PREFIX = 8
MAX_HEADER = 100 * 1024 * 1024
"""The safetensors library refuses larger headers, so MER does too."""


def header_length(prefix: bytes, file_size: int) -> int:
    """The header length announced by the first 8 bytes of a ``file_size``-byte file."""
    if file_size < PREFIX or len(prefix) < PREFIX:
        raise _not_safetensors(f"{file_size} bytes is too short")
    length = int.from_bytes(prefix[:PREFIX], "little")
    if length > MAX_HEADER or PREFIX + length > file_size:
        raise _not_safetensors(f"header length {length} does not fit a {file_size}-byte file")
    return length


def read_tensors(header: bytes, file_size: int) -> list[TensorSpec]:
    """The tensors a header declares, in file order; checks they fill the file exactly."""
    try:
        entries = json.loads(header)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _not_safetensors(f"header is not JSON ({exc})") from exc
    if not isinstance(entries, dict):
        raise _not_safetensors("header is not a JSON object")
    entries.pop("__metadata__", None)
    if not entries:
        raise InvalidRequest("the safetensors file holds no tensors")
    tensors: list[tuple[int, TensorSpec]] = []
    data_size = file_size - PREFIX - len(header)
    for name, entry in entries.items():
        spec, begin, end = _tensor(name, entry)
        if not 0 <= begin <= end <= data_size:
            raise _not_safetensors(f"tensor {name!r} lies outside the file")
        itemsize = _itemsize(spec.datatype)
        if itemsize and end - begin != math.prod(spec.shape) * itemsize:
            raise _not_safetensors(
                f"tensor {name!r} holds {end - begin} bytes, not {spec.shape} of {spec.datatype}"
            )
        tensors.append((begin, spec))
    tensors.sort(key=lambda t: t[0])
    return [spec for _, spec in tensors]


def check_against(tensors: Sequence[TensorSpec], initializers: Sequence[TensorSpec]) -> None:
    """Each tensor must replace an initializer of the same name, datatype and shape."""
    known = {init.name: init for init in initializers}
    for tensor in tensors:
        init = known.get(tensor.name)
        if init is None:
            names = sorted(known)
            hint = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise InvalidRequest(
                f"tensor {tensor.name!r} is not an initializer of the model; "
                + (f"known initializers: {hint}" if names else "the model has no initializers")
            )
        if tensor.datatype != init.datatype:
            raise InvalidRequest(
                f"tensor {tensor.name!r} is {tensor.datatype} but the model's initializer "
                f"is {init.datatype}"
            )
        if list(tensor.shape) != list(init.shape):
            raise InvalidRequest(
                f"tensor {tensor.name!r} has shape {list(tensor.shape)} but the model's "
                f"initializer has shape {list(init.shape)}"
            )


def _tensor(name: str, entry: Any) -> tuple[TensorSpec, int, int]:
    if not isinstance(entry, dict):
        raise _not_safetensors(f"entry {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in BY_SAFETENSORS:
        known = ", ".join(BY_SAFETENSORS)
        raise InvalidRequest(f"tensor {name!r} has dtype {dtype!r}; MER supports {known}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _not_safetensors(f"tensor {name!r} has no valid shape")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
    ):
        raise _not_safetensors(f"tensor {name!r} has no valid data_offsets")
    spec = TensorSpec(name=name, datatype=BY_SAFETENSORS[dtype].oip, shape=shape)
    return spec, offsets[0], offsets[1]


def _itemsize(datatype: str) -> int:
    """Bytes per element (BF16 has no numpy dtype)."""
    numpy_dtype = BY_OIP[datatype].numpy
    return 2 if numpy_dtype is None else int(numpy_dtype.itemsize)


def _not_safetensors(why: str) -> InvalidRequest:
    return InvalidRequest(f"not a safetensors file: {why}")
