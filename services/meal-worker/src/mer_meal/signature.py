"""Check a decoded request against the signature of the session that will run it.

Every refusal is a 400 naming the input or output and what the model expects. The result is the
feed for ``session.run``, the request's row count and its batching signature (the non-batch
dimensions: requests merge only when those agree), plus the outputs to answer with.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
from mer_core.errors import InvalidRequest
from mer_core.tensors import InferRequest

from mer_meal.sessions import LoadedSession

Array = np.ndarray[Any, Any]


@dataclass(slots=True)
class Feed:
    inputs: dict[str, Array]
    rows: int
    signature: Hashable | None
    outputs: list[tuple[int, str, bool]]
    """(index in the session's outputs, name, binary) for each output to answer with."""


def _inputs_list(session: LoadedSession) -> str:
    return ", ".join(f"{s.name} ({s.describe()})" for s in session.inputs.values())


def check_request(model: str, session: LoadedSession, request: InferRequest) -> Feed:
    expected = session.inputs
    feed: dict[str, Array] = {}
    for given in request.inputs:
        sig = expected.get(given.name)
        if sig is None:
            known = _inputs_list(session)
            raise InvalidRequest(
                f"model {model} has no input {given.name!r}; its inputs are: {known}"
            )
        if given.name in feed:
            raise InvalidRequest(f"input {given.name!r} is given twice")
        if given.datatype != sig.datatype:
            raise InvalidRequest(
                f"input {given.name!r}: datatype {given.datatype} given, "
                f"model {model} expects {sig.datatype}"
            )
        shape, wanted = given.shape, sig.shape
        if len(shape) != len(wanted):
            raise _shape_error(model, given.name, shape, wanted)
        for want, got in zip(wanted, shape):  # noqa: B905 - lengths checked just above
            if want not in (got, -1):
                raise _shape_error(model, given.name, shape, wanted)
        feed[given.name] = (
            _as_text(given.name, given.array) if sig.datatype == "BYTES" else given.array
        )
    if len(feed) != len(expected):
        missing = [s for name, s in expected.items() if name not in feed]
        wanted_inputs = ", ".join(f"{s.name!r} ({s.describe()})" for s in missing)
        raise InvalidRequest(f"model {model} needs input {wanted_inputs}")
    rows, signature = _batching(model, session, request)
    return Feed(feed, rows, signature, _outputs(model, session, request))


def _as_text(name: str, array: Array) -> Array:
    """onnxruntime's string tensors take ``str``: binary BYTES elements arrive as ``bytes``."""
    if array.size == 0 or not isinstance(array.flat[0], bytes):
        return array
    try:
        return np.array([b.decode() for b in array.reshape(-1)], dtype=object).reshape(array.shape)
    except (UnicodeDecodeError, AttributeError):
        raise InvalidRequest(f"input {name!r}: BYTES elements must be UTF-8 text") from None


def _shape_error(
    model: str, name: str, shape: tuple[int, ...], wanted: tuple[int, ...]
) -> InvalidRequest:
    return InvalidRequest(
        f"input {name!r}: shape {list(shape)} given, "
        f"model {model} expects {list(wanted)} (-1: any size)"
    )


def _batching(
    model: str, session: LoadedSession, request: InferRequest
) -> tuple[int, Hashable | None]:
    inputs = request.inputs
    first = inputs[0].shape
    rows = first[0] if first else 1
    if not session.batchable:
        return rows, None
    if len(inputs) == 1:
        return rows, first[1:]
    if any(i.shape[0] != rows for i in inputs):
        sizes = ", ".join(f"{i.name}: {i.shape[0]}" for i in inputs)
        raise InvalidRequest(f"model {model}: inputs disagree on the batch dimension ({sizes})")
    return rows, tuple(sorted((i.name, i.shape[1:]) for i in inputs))


def _outputs(
    model: str, session: LoadedSession, request: InferRequest
) -> list[tuple[int, str, bool]]:
    default = request.binary_output_default
    if request.outputs is None:
        return session.all_outputs[default]
    index = session.output_index
    chosen = []
    for wanted in request.outputs:
        i = index.get(wanted.name)
        if i is None:
            names = ", ".join(index)
            raise InvalidRequest(
                f"model {model} has no output {wanted.name!r}; its outputs are: {names}"
            )
        chosen.append((i, wanted.name, default if wanted.binary is None else wanted.binary))
    return chosen
