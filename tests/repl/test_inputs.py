from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mer_core.schemas.oip import MetadataTensor
from mer_repl.inputs import bind_inputs, read_input
from mer_repl.problems import UsageError

IRIS = [MetadataTensor(name="input", datatype="FP32", shape=[-1, 4])]
TWO = [
    MetadataTensor(name="a", datatype="INT64", shape=[-1, 2]),
    MetadataTensor(name="b", datatype="FP64", shape=[-1]),
]


def test_json_literal_is_cast_to_the_input_datatype() -> None:
    bound = bind_inputs(read_input("[[5.1, 3.5, 1.4, 0.2]]"), IRIS, "iris")
    assert list(bound) == ["input"]
    assert bound["input"].dtype == np.float32
    assert bound["input"].shape == (1, 4)
    np.testing.assert_allclose(bound["input"], [[5.1, 3.5, 1.4, 0.2]], rtol=1e-6)


def test_one_row_gets_its_batch_dimension() -> None:
    bound = bind_inputs(read_input("[5.1, 3.5, 1.4, 0.2]"), IRIS, "iris")
    assert bound["input"].shape == (1, 4)


def test_named_inputs_from_a_json_object() -> None:
    bound = bind_inputs(read_input('{"a": [[1, 2], [3, 4]], "b": [0.5, 1.5]}'), TWO, "m")
    assert bound["a"].dtype == np.int64
    assert bound["a"].tolist() == [[1, 2], [3, 4]]
    assert bound["b"].dtype == np.float64


@pytest.mark.parametrize(
    ("raw", "specs", "message"),
    [
        ("[[1, 2, 3]]", IRIS, "input 'input' expects shape [?, 4], INPUT has [1, 3]"),
        ("[[1, 2], [3]]", IRIS, "input 'input': rows of different lengths"),
        ('{"nope": [[1, 2, 3, 4]]}', TWO, "model m has no input 'nope' (inputs: a, b)"),
        ('{"a": [[1, 2]]}', TWO, "INPUT lacks input 'b' of model m"),
        ("[[1, 2]]", TWO, "model m has 2 inputs (a, b)"),
        ('{"a": [[1.5, 2]], "b": [1]}', TWO, "input 'a' is INT64: give whole numbers"),
    ],
)
def test_bad_input_says_what_is_wrong(raw: str, specs: list[MetadataTensor], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        bind_inputs(read_input(raw), specs, "m")
    assert caught.value.message.startswith(message)


def test_npy_npz_and_csv_files(tmp_path: Path) -> None:
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    np.save(tmp_path / "x.npy", rows)
    np.savez(tmp_path / "x.npz", whatever=rows)
    (tmp_path / "x.csv").write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    for name in ("x.npy", "x.npz", "x.csv"):
        bound = bind_inputs(read_input(str(tmp_path / name)), IRIS, "iris")
        assert bound["input"].dtype == np.float32, name
        np.testing.assert_allclose(bound["input"], rows, rtol=1e-6)


def test_one_csv_row_is_still_a_batch(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("5.1,3.5,1.4,0.2\n")
    assert bind_inputs(read_input(str(tmp_path / "one.csv")), IRIS, "iris")["input"].shape == (1, 4)


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("[[1, 2,]]", "INPUT is not valid JSON"),
        ("input.txt", "INPUT must be a JSON literal, a .npy, .npz or .csv file"),
        ("missing.csv", "no such file"),
    ],
)
def test_unreadable_input(word: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_input(word)


def test_csv_with_text_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("a,b,c,d\n1,2,3,4\n")
    with pytest.raises(UsageError, match=r"cannot read bad\.csv"):
        read_input(str(tmp_path / "bad.csv"))


def test_pickled_npy_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UsageError, match=r"obj\.npy is not a \.npy file numpy can read without"):
        read_input(str(tmp_path / "obj.npy"))


@pytest.mark.parametrize("content", [b"", b"not numpy at all\n", b"\x80\x04K\x01."])
def test_a_file_that_is_not_npy_says_so(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.npy").write_bytes(content)
    (tmp_path / "x.npz").write_bytes(content)
    with pytest.raises(
        UsageError, match=r"x\.npy is not a \.npy file numpy can read without pickle"
    ):
        read_input(str(tmp_path / "x.npy"))
    with pytest.raises(UsageError, match=r"x\.npz is not a \.npz archive numpy can read"):
        read_input(str(tmp_path / "x.npz"))


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_csv_holds_no_rows(tmp_path: Path, content: str) -> None:
    """No numpy warning escapes (warnings are errors in the tests); the file is named."""
    (tmp_path / "empty.csv").write_text(content)
    with pytest.raises(UsageError, match=r"empty\.csv holds no rows$"):
        read_input(str(tmp_path / "empty.csv"))


def test_text_values_name_input_dtype_and_datatype(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        bind_inputs(read_input('[["a", 2, 3, 4]]'), IRIS, "iris")
    assert caught.value.message == (
        "input 'input' is FP32: INPUT holds text (dtype <U21), give numbers"
    )
    np.save(tmp_path / "str.npy", np.array([["a", "b", "c", "d"]]))
    with pytest.raises(UsageError, match=r"input 'input' is FP32: INPUT holds text \(dtype <U1\)"):
        bind_inputs(read_input(str(tmp_path / "str.npy")), IRIS, "iris")


def test_complex_and_object_values_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.array([[1 + 2j, 2, 3, 4]]))
    with pytest.raises(UsageError, match=r"INPUT holds complex numbers \(dtype complex128\)"):
        bind_inputs(read_input(str(tmp_path / "c.npy")), IRIS, "iris")
    with pytest.raises(UsageError, match=r"INPUT holds objects \(dtype object\)"):
        bind_inputs(read_input("[[1, null, 3, 4]]"), IRIS, "iris")


def test_integers_out_of_the_datatype_range_are_refused() -> None:
    small = [MetadataTensor(name="x", datatype="UINT8", shape=[-1])]
    with pytest.raises(UsageError, match=r"input 'x' is UINT8: values must lie in 0\.\.255"):
        bind_inputs(read_input("[1, 256]"), small, "m")
    with pytest.raises(UsageError, match=r"values must lie in 0\.\.255"):
        bind_inputs(read_input("[-1.0]"), small, "m")
    assert bind_inputs(read_input("[0, 255]"), small, "m")["x"].tolist() == [0, 255]


def test_too_large_for_fp32_is_refused_not_infinite() -> None:
    with pytest.raises(UsageError, match=r"input 'input' is FP32: INPUT \(dtype float64\) does"):
        bind_inputs(read_input("[[1e300, 2, 3, 4]]"), IRIS, "iris")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"a": 1}', "model iris has no input 'a' (inputs: input)"),
        ('{"a": [[1, 2, 3, 4]]}', "model iris has no input 'a' (inputs: input)"),
        ('{"input": 1}', "input 'input' expects an array, INPUT gives one value"),
        ("7", "input 'input' expects an array, INPUT gives one value"),
        ("[]", "input 'input': INPUT holds no values"),
    ],
)
def test_json_that_names_nothing_the_model_has(raw: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        bind_inputs(read_input(raw), IRIS, "iris")
    assert caught.value.message == message


def test_binary_csv_is_not_text(tmp_path: Path) -> None:
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(UsageError, match=r"cannot read bin\.csv: not UTF-8 text"):
        read_input(str(tmp_path / "bin.csv"))
