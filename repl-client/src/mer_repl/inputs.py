"""Turn ``run``'s INPUT into the model's input tensors.

INPUT is a JSON literal (``[[5.1, 3.5, 1.4, 0.2]]``, or ``{"input": [[...]]}`` naming inputs),
a ``.npy`` array, a ``.npz`` archive of named arrays, or a ``.csv`` file of header-less numeric
rows. Numbers are cast to each input's datatype from the worker's metadata; a single array goes
to a model's only input; one row missing its batch dimension gets it. Whatever is off is a
``UsageError`` naming the input; numpy's own warnings never reach the terminal.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mer_core.datatypes import BY_OIP
from mer_core.schemas.oip import MetadataTensor
from mer_core.tensors import Array

from mer_repl.problems import UsageError

Raw = Any
"""An array, nested lists, or a mapping of input name to either."""

_KINDS = {"U": "text", "S": "bytes", "O": "objects", "c": "complex numbers", "M": "dates"}
"""numpy dtype kinds that are not plain numbers, as a person would call them."""


def read_input(word: str) -> Raw:
    """What INPUT holds, before it is matched to the model's inputs."""
    if word[:1] in "[{" or _is_number(word):
        try:
            return json.loads(word)
        except json.JSONDecodeError as exc:
            raise UsageError(f"INPUT is not valid JSON: {exc.msg} at column {exc.colno}") from None
    path = Path(word).expanduser()
    suffix = path.suffix.lower()
    if suffix not in {".npy", ".npz", ".csv"}:
        raise UsageError(f"INPUT must be a JSON literal, a .npy, .npz or .csv file; got {word!r}")
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if suffix == ".csv":
            return _read_csv(path)
        return _read_numpy(path, suffix)


def _read_numpy(path: Path, suffix: str) -> Raw:
    try:
        if suffix == ".npy":
            loaded: Any = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as archive:
                loaded = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, AttributeError, zipfile.BadZipFile):
        loaded = None  # a pickle, text, or an .npz that is a bare .npy
    if not isinstance(loaded, np.ndarray if suffix == ".npy" else dict):
        kind = "a .npy file" if suffix == ".npy" else "a .npz archive"
        raise UsageError(f"{path} is not {kind} numpy can read without pickle")
    return loaded


def _read_csv(path: Path) -> Array:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path.name}: not UTF-8 text") from None
    if not text.strip():
        raise UsageError(f"{path} holds no rows")
    try:
        return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise UsageError(f"cannot read {path.name}: {exc}") from None


def bind_inputs(raw: Raw, specs: Sequence[MetadataTensor], model: str) -> dict[str, Array]:
    """Match ``raw`` to the model's inputs, cast and shaped; a clear error naming what is off."""
    names = [s.name for s in specs]
    if isinstance(raw, Mapping):
        unknown = [k for k in raw if k not in names]
        lone_array = len(raw) == 1 and isinstance(next(iter(raw.values())), np.ndarray)
        if unknown and len(specs) == 1 and lone_array:
            raw = next(iter(raw.values()))  # an .npz of one array, whatever its name
        elif unknown:
            raise UsageError(f"model {model} has no input {unknown[0]!r} (inputs: {_list(names)})")
        else:
            missing = [n for n in names if n not in raw]
            if missing:
                raise UsageError(f"INPUT lacks input {missing[0]!r} of model {model}")
            return {s.name: _tensor(raw[s.name], s) for s in specs}
    if len(specs) != 1:
        raise UsageError(
            f"model {model} has {len(specs)} inputs ({_list(names)}); "
            'give INPUT as a JSON object {"name": data, ...} or an .npz'
        )
    return {specs[0].name: _tensor(raw, specs[0])}


def _tensor(value: Any, spec: MetadataTensor) -> Array:
    entry = BY_OIP[spec.datatype]
    if entry.numpy is None:
        raise UsageError(f"input {spec.name!r} is {spec.datatype}, which mer cannot send")
    try:
        source = np.asarray(value) if isinstance(value, np.ndarray) else _from_json(value)
    except ValueError:
        raise UsageError(f"input {spec.name!r}: rows of different lengths") from None
    if spec.shape and source.ndim == 0:
        raise UsageError(f"input {spec.name!r} expects an array, INPUT gives one value")
    if source.size == 0:
        raise UsageError(f"input {spec.name!r}: INPUT holds no values")
    array = _cast(source, spec)
    if array.ndim == len(spec.shape) - 1 and spec.shape and spec.shape[0] in (-1, 1):
        array = array[np.newaxis, ...]
    _check_shape(array, spec)
    return array


def _cast(source: Array, spec: MetadataTensor) -> Array:
    """``source`` as the input's numpy dtype, refused when that would lose or invent values."""
    target = BY_OIP[spec.datatype].numpy
    assert target is not None
    if target.kind == "O":  # BYTES: text goes as it is
        return source.astype(target, copy=False)
    if source.dtype.kind not in "biuf":
        what = _KINDS.get(source.dtype.kind, "non-numbers")
        raise UsageError(
            f"input {spec.name!r} is {spec.datatype}: INPUT holds {what} "
            f"(dtype {source.dtype}), give numbers"
        )
    if target.kind in "iub" and source.dtype.kind == "f" and not _whole(source):
        raise UsageError(f"input {spec.name!r} is {spec.datatype}: give whole numbers")
    if target.kind in "iu" and not _fits(source, target):
        low, high = _limits(target)
        raise UsageError(
            f"input {spec.name!r} is {spec.datatype}: values must lie in {low}..{high}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return source.astype(target, copy=False)
        except (ValueError, TypeError, OverflowError, RuntimeWarning):
            raise UsageError(
                f"input {spec.name!r} is {spec.datatype}: INPUT (dtype {source.dtype}) "
                f"does not fit it"
            ) from None


def _whole(array: Array) -> bool:
    return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))


def _fits(array: Array, target: np.dtype[Any]) -> bool:
    low, high = _limits(target)
    return bool(array.min() >= low and array.max() <= high)


def _limits(target: np.dtype[Any]) -> tuple[int, int]:
    info = np.iinfo(target)
    return int(info.min), int(info.max)


def _from_json(value: Any) -> Array:
    """JSON numbers keep full precision here; ``_tensor`` casts them to the input's datatype."""
    array = np.asarray(value)
    if array.dtype.kind in "fi":
        return array.astype(np.float64 if array.dtype.kind == "f" else np.int64)
    return array


def _check_shape(array: Array, spec: MetadataTensor) -> None:
    expected = spec.shape
    fits = len(expected) == array.ndim and all(
        want < 0 or want == got for want, got in zip(expected, array.shape, strict=True)
    )
    if not fits:
        want = "[" + ", ".join("?" if d < 0 else str(d) for d in expected) + "]"
        got = "[" + ", ".join(str(d) for d in array.shape) + "]"
        raise UsageError(f"input {spec.name!r} expects shape {want}, INPUT has {got}")


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _list(names: Sequence[str]) -> str:
    return ", ".join(names) or "none"
