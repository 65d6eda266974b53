"""An infer answer as a ``Result``: a table of the first rows, and every tensor as JSON.

JSON follows the Open Inference Protocol's tensor shape, data flat and row-major:
``{"model": ..., "outputs": {name: {"shape": [...], "datatype": "...", "data": [...]}}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from mer_core.tensors import Array, datatype_of

from mer_repl.result import Block, Result, Table, Text

SHOWN_ROWS = 10
"""Rows a table shows; the JSON output always carries all of them."""
CELL_VALUES = 10


def outputs_result(model: str, version: str | None, outputs: Mapping[str, Array]) -> Result:
    doc = {
        "model": model,
        "weights": version,
        "outputs": {name: _tensor_doc(array) for name, array in outputs.items()},
    }
    return Result(data=doc, blocks=tuple(_blocks(outputs)))


def _tensor_doc(array: Array) -> dict[str, Any]:
    if array.dtype.kind in "OSU":
        data: list[Any] = [
            v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v)
            for v in array.reshape(-1)
        ]
    else:
        data = array.reshape(-1).tolist()
    return {"shape": list(array.shape), "datatype": datatype_of(array), "data": data}


def _blocks(outputs: Mapping[str, Array]) -> list[Block]:
    arrays = list(outputs.values())
    rows = {a.shape[0] for a in arrays if a.ndim >= 1}
    if not arrays or len(rows) != 1 or any(a.ndim == 0 for a in arrays):
        return [Text(f"{name} {_summary(a)}\n{_preview(a)}") for name, a in outputs.items()]
    (count,) = rows
    blocks: list[Block] = []
    summary = ", ".join(f"{name} {_summary(a)}" for name, a in outputs.items())
    if count > SHOWN_ROWS:
        blocks.append(Text(f"{count} rows: {summary}; the first {SHOWN_ROWS}:"))
    table_rows = [[str(i), *(_cell(a[i]) for a in arrays)] for i in range(min(count, SHOWN_ROWS))]
    blocks.append(Table(["row", *outputs], table_rows))
    return blocks


def _summary(array: Array) -> str:
    return f"{datatype_of(array)}[{', '.join(str(d) for d in array.shape)}]"


def _preview(array: Array) -> str:
    return np.array2string(array, threshold=50, precision=4, edgeitems=3)


def _cell(value: Any) -> str:
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        shown = ", ".join(_number(v) for v in flat[:CELL_VALUES])
        more = f", … {flat.size - CELL_VALUES} more" if flat.size > CELL_VALUES else ""
        return f"[{shown}{more}]"
    return _number(value)


def _number(value: Any) -> str:
    if isinstance(value, np.floating | float):
        return f"{float(value):.4g}"
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)
