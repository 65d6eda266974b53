"""The tensor codec (mer_core.tensors): every OIP datatype through JSON and binary; errors."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from mer_core.errors import InvalidRequest
from mer_core.tensors import (
    HEADER_LENGTH,
    InferOutput,
    array_from_binary,
    array_from_json,
    array_to_binary,
    array_to_json_data,
    datatype_of,
    decode_infer_request,
    decode_infer_response,
    encode_infer_request,
    encode_infer_response,
)

SAMPLES: dict[str, np.ndarray] = {
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "UINT8": np.array([[0, 1, 255], [7, 8, 9]], dtype=np.uint8),
    "UINT16": np.array([[0, 1, 65535], [7, 8, 9]], dtype=np.uint16),
    "UINT32": np.array([[0, 1, 2**32 - 1], [7, 8, 9]], dtype=np.uint32),
    "UINT64": np.array([[0, 1, 2**64 - 1], [7, 8, 9]], dtype=np.uint64),
    "INT8": np.array([[-128, 0, 127], [7, -8, 9]], dtype=np.int8),
    "INT16": np.array([[-32768, 0, 32767], [7, -8, 9]], dtype=np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1], [7, -8, 9]], dtype=np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1], [7, -8, 9]], dtype=np.int64),
    "FP16": np.array([[0.5, -1.25, 65504.0], [1e-3, 0, -2]], dtype=np.float16),
    "FP32": np.array([[0.1, -1.5, 3.4e38], [1e-30, 0, -2]], dtype=np.float32),
    "FP64": np.array([[0.1, -1.5, 1.7e308], [1e-300, 0, -2]], dtype=np.float64),
    "BYTES": np.array([["a", "", "héllo"], ["x" * 300, "b", "c"]], dtype=object),
}


def same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype == object:
        return a.shape == b.shape and [_text(x) for x in a.flat] == [_text(x) for x in b.flat]
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def _text(item: object) -> str:
    return item.decode() if isinstance(item, bytes) else str(item)


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_every_datatype_round_trips_through_json(datatype: str) -> None:
    array = SAMPLES[datatype]
    assert datatype_of(array) == datatype
    data = orjson.loads(orjson.dumps(array_to_json_data(array), option=orjson.OPT_SERIALIZE_NUMPY))
    back = array_from_json("t", datatype, array.shape, data)
    assert same(back, array)


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_every_datatype_round_trips_through_binary(datatype: str) -> None:
    array = SAMPLES[datatype]
    raw = array_to_binary(array)
    back = array_from_binary("t", datatype, array.shape, memoryview(raw))
    assert same(back, array)
    if datatype != "BYTES":
        assert len(raw) == array.size * array.dtype.itemsize


def test_bytes_binary_layout_is_length_prefixed_little_endian() -> None:
    raw = array_to_binary(np.array([b"ab", b""], dtype=object))
    assert raw == b"\x02\x00\x00\x00ab\x00\x00\x00\x00"


@pytest.mark.parametrize("binary", [False, True])
def test_whole_request_round_trips_with_every_datatype(binary: bool) -> None:
    body, json_length = encode_infer_request(
        SAMPLES,
        binary_inputs=binary,
        outputs=["o1", "o2"],
        binary_outputs=True,
        request_id="req-1",
        parameters={"priority": 2},
    )
    assert (json_length is not None) == binary
    request = decode_infer_request(body, json_length)
    assert request.id == "req-1"
    assert request.parameters == {"priority": 2}
    assert [o.name for o in request.outputs or []] == ["o1", "o2"]
    assert all(o.binary is True for o in request.outputs or [])
    assert [i.name for i in request.inputs] == list(SAMPLES)
    for given in request.inputs:
        assert given.datatype == given.name
        assert given.shape == SAMPLES[given.name].shape
        assert same(given.array, SAMPLES[given.name])


def test_binary_and_json_answers_decode_to_the_same_arrays() -> None:
    outputs = {name: array for name, array in SAMPLES.items() if name != "BYTES"}
    answers = {}
    for binary in (False, True):
        body, json_length = encode_infer_response(
            model_name="m",
            model_version="v2",
            request_id="x",
            outputs=[InferOutput(n, a, binary) for n, a in outputs.items()],
        )
        head = orjson.loads(body[:json_length] if json_length else body)
        assert head["model_version"] == "v2"
        assert head["id"] == "x"
        answers[binary] = decode_infer_response(body, json_length)
    for name, array in outputs.items():
        assert same(answers[False].outputs[name], array)
        assert same(answers[True].outputs[name], array)


def test_nested_json_data_is_accepted_row_major() -> None:
    array = array_from_json("t", "INT32", (2, 2), [[1, 2], [3, 4]])
    assert array.tolist() == [[1, 2], [3, 4]]
    assert array.dtype == np.int32


def test_binary_input_of_a_mixed_request_is_zero_copy_and_in_order() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(4, dtype=np.int64).reshape(2, 2)
    head = orjson.dumps(
        {
            "inputs": [
                {"name": "a", "datatype": "FP32", "shape": [2, 3],
                 "parameters": {"binary_data_size": a.nbytes}},
                {"name": "j", "datatype": "INT32", "shape": [1], "data": [5]},
                {"name": "b", "datatype": "INT64", "shape": [2, 2],
                 "parameters": {"binary_data_size": b.nbytes}},
            ]
        }
    )  # fmt: skip
    request = decode_infer_request(head + a.tobytes() + b.tobytes(), len(head))
    got = {i.name: i.array for i in request.inputs}
    assert np.array_equal(got["a"], a)
    assert np.array_equal(got["b"], b)
    assert got["j"].tolist() == [5]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"{}", "non-empty list 'inputs'"),
        (b'{"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]}', "string 'name'"),
        (b'{"inputs": [{"name": "x", "shape": [1], "data": [1]}]}', "input 'x' needs a string"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}]}',
         "input 'x': shape must be"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [true], "data": [1]}]}',
         "input 'x': shape must be"),
        (b'{"inputs": [{"name": "x", "datatype": "FP33", "shape": [1], "data": [1]}]}',
         "input 'x': unknown datatype 'FP33'"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3]}]}',
         "input 'x': shape [2, 2] needs 4 elements, data has 3"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": ["a"]}]}',
         "input 'x': data is not valid FP32"),
        (b'{"inputs": [{"name": "x", "datatype": "INT64", "shape": [1], "data": [1.5]}]}',
         "input 'x': datatype INT64 needs integer data"),
        (b'{"inputs": [{"name": "x", "datatype": "UINT8", "shape": [1], "data": [300]}]}',
         "input 'x': data is not valid UINT8"),
        (b'{"inputs": [{"name": "x", "datatype": "BOOL", "shape": [1], "data": [1]}]}',
         "input 'x': datatype BOOL needs true/false data"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}',
         "input 'x' has neither 'data' nor binary_data_size"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "id": 5}',
         "'id' must be a string"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}],'
         b' "outputs": [{"name": "y", "parameters": {"binary_data": "yes"}}]}',
         "output 'y': binary_data must be true or false"),
    ],
)  # fmt: skip
def test_bad_requests_are_400_naming_what_is_wrong(body: bytes, expected: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_infer_request(body)
    assert expected in caught.value.message


def test_binary_framing_errors_are_clear() -> None:
    head = orjson.dumps(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2],
                     "parameters": {"binary_data_size": 8}}]}
    )  # fmt: skip
    with pytest.raises(InvalidRequest, match="runs past the body's binary data"):
        decode_infer_request(head + b"\0" * 4, len(head))
    with pytest.raises(InvalidRequest, match="4 bytes of binary data follow"):
        decode_infer_request(head + b"\0" * 12, len(head))
    with pytest.raises(InvalidRequest, match=f"{HEADER_LENGTH} is 999"):
        decode_infer_request(head, 999)
    with pytest.raises(InvalidRequest, match="needs 12 bytes, binary data has 8"):
        array_from_binary("x", "FP32", (3,), memoryview(b"\0" * 8))
    with pytest.raises(InvalidRequest, match="BYTES element 0 runs past"):
        array_from_binary("x", "BYTES", (1,), memoryview(b"\x09\0\0\0abc"))
    with pytest.raises(InvalidRequest, match="bytes left over after 1 BYTES"):
        array_from_binary("x", "BYTES", (1,), memoryview(b"\x01\0\0\0ab"))


def test_bf16_is_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidRequest, match="datatype BF16 is not supported"):
        array_from_json("x", "BF16", (1,), [1.0])
