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
    with pytest.raises(UsageError, match=r"cannot read obj\.npy"):
        read_input(str(tmp_path / "obj.npy"))
