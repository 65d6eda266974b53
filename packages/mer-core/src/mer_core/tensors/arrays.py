"""One tensor of the Open Inference Protocol as numpy: from and to JSON ``data`` and binary bytes.

Tensor data is never validated element by element: ``data`` goes straight into
``np.asarray(data, dtype)`` and binary chunks into ``np.frombuffer``; only the element count,
the shape and the datatype are checked, each with a message naming the tensor. BYTES arrays are
numpy ``object`` arrays: of ``str`` when they came from JSON, of ``bytes`` when they came from
binary data (a 4-byte little-endian length before each element); encoders take either.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from mer_core.datatypes import BY_OIP, from_numpy
from mer_core.errors import InvalidRequest

_OBJECT: np.dtype[Any] = np.dtype(np.object_)
_FLOATS: dict[str, np.dtype[Any]] = {
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "FP16": np.dtype(np.float16),
}
_UINT32 = struct.Struct("<I")

Array = np.ndarray[Any, Any]


def datatype_of(array: Array) -> str:
    """The OIP datatype of a numpy array (``str``/``bytes``/``object`` arrays are BYTES)."""
    return from_numpy(array.dtype).oip


def _numpy_dtype(name: str, datatype: str) -> np.dtype[Any]:
    entry = BY_OIP.get(datatype)
    if entry is None:
        known = ", ".join(BY_OIP)
        raise InvalidRequest(
            f"input {name!r}: unknown datatype {datatype!r}; expected one of {known}"
        )
    if entry.numpy is None:
        raise InvalidRequest(f"input {name!r}: datatype {datatype} is not supported by this server")
    return entry.numpy


def array_from_json(name: str, datatype: str, shape: Sequence[int], data: Any) -> Array:
    """``data`` (flat or nested, row-major) as an array of ``shape`` and ``datatype``."""
    dtype = _FLOATS.get(datatype)
    count = prod(shape)
    try:
        if dtype is None:
            dtype = _numpy_dtype(name, datatype)
            if datatype == "BYTES":
                array = np.asarray(data, dtype=_OBJECT)
            else:
                _check_kind(name, datatype, dtype, data)
                array = np.asarray(data, dtype=dtype)
        else:
            array = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidRequest(f"input {name!r}: data is not valid {datatype}: {exc}") from None
    if array.size != count:
        raise InvalidRequest(
            f"input {name!r}: shape {list(shape)} needs {count} elements, data has {array.size}"
        )
    return array.reshape(shape)


def _check_kind(name: str, datatype: str, dtype: np.dtype[Any], data: Any) -> None:
    """Integer and boolean tensors refuse data numpy would silently truncate or coerce."""
    probe = np.asarray(data)
    if not probe.size:
        return
    kind = probe.dtype.kind
    if dtype.kind == "b":
        ok = kind == "b"
    elif kind == "f":  # a mix of ints past int64 and others is inferred as float: check it
        ok = bool(np.all(np.isfinite(probe)) and np.all(np.mod(probe, 1) == 0))
    else:
        ok = kind in "biuO"  # "O": huge or mixed ints; the conversion range-checks them
    if not ok:
        wanted = "true/false" if dtype.kind == "b" else "integer"
        raise InvalidRequest(
            f"input {name!r}: datatype {datatype} needs {wanted} data, "
            f"got {probe.dtype.name} values"
        )


def array_from_binary(name: str, datatype: str, shape: Sequence[int], buf: memoryview) -> Array:
    """A binary tensor as an array; zero-copy (read-only) except for BYTES."""
    dtype = _numpy_dtype(name, datatype)
    count = prod(shape)
    if datatype == "BYTES":
        return _bytes_from_binary(name, shape, count, buf)
    if len(buf) != count * dtype.itemsize:
        raise InvalidRequest(
            f"input {name!r}: shape {list(shape)} of {datatype} needs "
            f"{count * dtype.itemsize} bytes, binary data has {len(buf)}"
        )
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


def _bytes_from_binary(name: str, shape: Sequence[int], count: int, buf: memoryview) -> Array:
    flat = np.empty(count, dtype=np.object_)
    offset, end = 0, len(buf)
    for i in range(count):
        if offset + 4 > end:
            raise InvalidRequest(f"input {name!r}: BYTES data ends after {i} of {count} elements")
        (size,) = _UINT32.unpack_from(buf, offset)
        offset += 4
        if offset + size > end:
            raise InvalidRequest(f"input {name!r}: BYTES element {i} runs past the data")
        flat[i] = bytes(buf[offset : offset + size])
        offset += size
    if offset != end:
        raise InvalidRequest(
            f"input {name!r}: {end - offset} bytes left over after {count} BYTES elements"
        )
    return flat.reshape(shape)


def _as_bytes(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return str(item).encode()


def array_to_binary(array: Array) -> bytes:
    """The raw bytes of ``array`` in the binary extension's layout (row-major)."""
    if array.dtype.kind in "OSU":
        parts: list[bytes] = []
        for item in array.reshape(-1):
            raw = _as_bytes(item)
            parts.append(_UINT32.pack(len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return np.ascontiguousarray(array).tobytes()


def array_to_json_data(array: Array) -> Any:
    """Something ``orjson`` (with ``OPT_SERIALIZE_NUMPY``) writes as the flat ``data`` list."""
    if array.dtype.kind in "OSU":
        return [
            item.decode("utf-8", "backslashreplace") if isinstance(item, bytes) else str(item)
            for item in array.reshape(-1)
        ]
    return array.reshape(-1)  # C-contiguous, as orjson needs: a view if it was, else a copy
