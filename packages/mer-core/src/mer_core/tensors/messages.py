"""Infer requests and answers of the Open Inference Protocol, JSON or with binary tensors.

Binary tensor extension (Triton): the body starts with ``json_length`` bytes of JSON (the
``Inference-Header-Content-Length`` header) and continues with the raw tensors, in the order of
the tensors that carry ``parameters.binary_data_size``. Answers carry binary outputs when the
request says ``parameters.binary_data_output`` or an output's ``parameters.binary_data``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from mer_core.errors import InvalidRequest
from mer_core.tensors.arrays import (
    Array,
    array_from_binary,
    array_from_json,
    array_to_binary,
    array_to_json_data,
    datatype_of,
)

HEADER_LENGTH = "Inference-Header-Content-Length"
"""The HTTP header that says how many leading body bytes are JSON."""

_NUMPY_OPTS = orjson.OPT_SERIALIZE_NUMPY


@dataclass(slots=True)
class InferInput:
    """A decoded input tensor; ``array`` already has the declared shape and datatype."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: Array
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RequestedOutput:
    """An entry of the request's ``outputs`` filter; ``binary`` None means the request default."""

    name: str
    binary: bool | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class InferRequest:
    id: str | None
    inputs: list[InferInput]
    outputs: list[RequestedOutput] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def binary_output_default(self) -> bool:
        return self.parameters.get("binary_data_output") is True


@dataclass(slots=True)
class InferOutput:
    """An output to answer with; ``binary`` selects the binary extension for it."""

    name: str
    array: Array
    binary: bool = False


@dataclass(slots=True)
class InferResponse:
    model_name: str
    model_version: str | None
    id: str | None
    outputs: dict[str, Array]
    parameters: dict[str, Any] = field(default_factory=dict)


# --- requests --------------------------------------------------------------------------------


def _load_json(body: bytes | memoryview, what: str) -> dict[str, Any]:
    """``orjson.loads``; a memoryview is parsed in place."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc}") from None
    if type(doc) is not dict:
        raise InvalidRequest(f"{what} must be a JSON object")
    return doc


def _split_body(body: bytes, json_length: int | None) -> tuple[memoryview | bytes, memoryview]:
    if json_length is None:
        return body, _EMPTY
    view = memoryview(body)
    if json_length < 0 or json_length > len(view):
        raise InvalidRequest(
            f"{HEADER_LENGTH} is {json_length} but the body has only {len(view)} bytes"
        )
    return view[:json_length], view[json_length:]


_EMPTY = memoryview(b"")


def _parameters(doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    params = doc.get("parameters")
    if params is None:
        return {}
    if type(params) is not dict:
        raise InvalidRequest(f"{where}: parameters must be a JSON object")
    return params


def _input_head(raw: Any) -> tuple[str, str, tuple[int, ...]]:
    """An input's name, datatype and shape, or a 400 saying which is wrong."""
    if type(raw) is not dict:
        raise InvalidRequest("each entry of 'inputs' must be a JSON object")
    name, datatype, shape = raw.get("name"), raw.get("datatype"), raw.get("shape")
    if type(name) is not str or not name:
        raise InvalidRequest("each input needs a string 'name'")
    if type(datatype) is not str:
        raise InvalidRequest(f"input {name!r} needs a string 'datatype'")
    if type(shape) is not list:
        raise InvalidRequest(f"input {name!r}: shape must be a list of non-negative integers")
    for dim in shape:
        if type(dim) is not int or dim < 0:  # bool is an int: refused by the exact type
            raise InvalidRequest(f"input {name!r}: shape must be a list of non-negative integers")
    return name, datatype, tuple(shape)


def decode_infer_request(body: bytes, json_length: int | None = None) -> InferRequest:
    """Parse an OIP infer request (JSON, or JSON plus binary tensors) into numpy arrays."""
    head, rest = _split_body(body, json_length)
    doc = _load_json(head, "request body")
    raw_inputs = doc.get("inputs")
    if type(raw_inputs) is not list or not raw_inputs:
        raise InvalidRequest("request body needs a non-empty list 'inputs'")
    inputs: list[InferInput] = []
    offset = 0
    for raw in raw_inputs:
        name, datatype, shape = _input_head(raw)
        params = raw.get("parameters")
        if params is None:
            if "data" not in raw:
                raise InvalidRequest(f"input {name!r} has neither 'data' nor binary_data_size")
            inputs.append(
                InferInput(
                    name, datatype, shape, array_from_json(name, datatype, shape, raw["data"])
                )
            )
            continue
        params = _parameters(raw, f"input {name!r}")
        size = params.get("binary_data_size")
        if size is None:
            if "data" not in raw:
                raise InvalidRequest(f"input {name!r} has neither 'data' nor binary_data_size")
            array = array_from_json(name, datatype, shape, raw["data"])
        else:
            if type(size) is not int or size < 0:
                raise InvalidRequest(f"input {name!r}: binary_data_size must be an integer >= 0")
            if offset + size > len(rest):
                raise InvalidRequest(
                    f"input {name!r}: binary_data_size {size} runs past the body's binary data"
                )
            array = array_from_binary(name, datatype, shape, rest[offset : offset + size])
            offset += size
        inputs.append(InferInput(name, datatype, shape, array, params))
    if offset != len(rest):
        raise InvalidRequest(
            f"{len(rest) - offset} bytes of binary data follow the inputs that no input claims"
        )
    request_id = doc.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InvalidRequest("'id' must be a string")
    outputs = doc.get("outputs")
    return InferRequest(
        id=request_id,
        inputs=inputs,
        outputs=None if outputs is None else _requested_outputs(outputs),
        parameters=_parameters(doc, "request"),
    )


def _requested_outputs(raw: Any) -> list[RequestedOutput] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidRequest("'outputs' must be a list")
    outputs = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidRequest("each entry of 'outputs' needs a string 'name'")
        params = _parameters(item, f"output {item['name']!r}")
        binary = params.get("binary_data")
        if binary is not None and type(binary) is not bool:
            raise InvalidRequest(f"output {item['name']!r}: binary_data must be true or false")
        outputs.append(RequestedOutput(item["name"], binary, params))
    return outputs


def encode_infer_request(
    inputs: Mapping[str, Array],
    *,
    binary_inputs: bool = False,
    outputs: Sequence[str] | None = None,
    binary_outputs: bool = False,
    request_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """An OIP infer request body, and its JSON length when binary tensors follow the JSON."""
    doc: dict[str, Any] = {}
    if request_id is not None:
        doc["id"] = request_id
    params = dict(parameters or {})
    if binary_outputs and outputs is None:
        params["binary_data_output"] = True
    if params:
        doc["parameters"] = params
    entries, chunks = _encode_tensors(
        ((name, array, binary_inputs) for name, array in inputs.items()), binary=False
    )
    doc["inputs"] = entries
    if outputs is not None:
        doc["outputs"] = [
            {"name": n, "parameters": {"binary_data": binary_outputs}} for n in outputs
        ]
    return _frame(doc, chunks)


def _encode_tensors(
    items: Iterable[tuple[str, Array, bool]], binary: bool
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Tensor entries and the binary chunks that follow the JSON, in order."""
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, array, as_binary in items:
        entry: dict[str, Any] = {
            "name": name,
            "datatype": datatype_of(array),
            "shape": list(array.shape),
        }
        if as_binary or binary:
            raw = array_to_binary(array)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = array_to_json_data(array)
        entries.append(entry)
    return entries, chunks


def _frame(doc: dict[str, Any], chunks: list[bytes]) -> tuple[bytes, int | None]:
    head = orjson.dumps(doc, option=_NUMPY_OPTS)
    if not chunks:
        return head, None
    return b"".join((head, *chunks)), len(head)


# --- responses -------------------------------------------------------------------------------


def encode_infer_response(
    *,
    model_name: str,
    model_version: str | None,
    request_id: str | None,
    outputs: Sequence[InferOutput],
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """The answer body, and its JSON length when some outputs are binary."""
    doc: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        doc["model_version"] = model_version
    if request_id is not None:
        doc["id"] = request_id
    if parameters:
        doc["parameters"] = dict(parameters)
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for out in outputs:
        array = out.array
        if out.binary:
            raw = array_to_binary(array)
            chunks.append(raw)
            tail: tuple[str, Any] = ("parameters", {"binary_data_size": len(raw)})
        else:
            tail = ("data", array_to_json_data(array))
        entries.append(
            {
                "name": out.name,
                "datatype": datatype_of(array),
                "shape": list(array.shape),
                tail[0]: tail[1],
            }
        )
    doc["outputs"] = entries
    return _frame(doc, chunks)


def decode_infer_response(body: bytes, json_length: int | None = None) -> InferResponse:
    """Parse an OIP infer answer (JSON or binary outputs) into numpy arrays."""
    head, rest = _split_body(body, json_length)
    doc = _load_json(head, "response body")
    outputs: dict[str, Array] = {}
    offset = 0
    for raw in doc.get("outputs") or []:
        name, datatype, shape = raw["name"], raw["datatype"], tuple(raw["shape"])
        size = (raw.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            outputs[name] = array_from_binary(name, datatype, shape, rest[offset : offset + size])
            offset += size
        else:
            outputs[name] = array_from_json(name, datatype, shape, raw.get("data", []))
    return InferResponse(
        model_name=doc.get("model_name", ""),
        model_version=doc.get("model_version"),
        id=doc.get("id"),
        outputs=outputs,
        parameters=doc.get("parameters") or {},
    )
