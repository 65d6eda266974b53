from __future__ import annotations

import re

import pytest
from mer_repl.lexer import split_line
from mer_repl.problems import UsageError


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("models", ["models"]),
        ("  model   digits  ", ["model", "digits"]),
        ("run iris [[5.1, 3.5, 1.4, 0.2]]", ["run", "iris", "[[5.1, 3.5, 1.4, 0.2]]"]),
        (
            'run m {"input": [[1, 2]], "x": "a ]} b"} --binary',
            ["run", "m", '{"input": [[1, 2]], "x": "a ]} b"}', "--binary"],
        ),
        (
            "model import x 'my model.onnx' --description \"two words\"",
            ["model", "import", "x", "my model.onnx", "--description", "two words"],
        ),
        (
            "weights add m v1 f.st --note=seed\\ 1",
            ["weights", "add", "m", "v1", "f.st", "--note=seed 1"],
        ),
        ("x[0] y", ["x[0]", "y"]),
    ],
)
def test_split_line_keeps_json_and_quotes(line: str, words: list[str]) -> None:
    assert split_line(line) == words


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("run iris [[1, 2]", "unclosed '['"),
        ("run iris [1, 2}", "unbalanced '}'"),
        ("model import x 'open", "No closing quotation"),
    ],
)
def test_split_line_says_what_is_unbalanced(line: str, problem: str) -> None:
    with pytest.raises(UsageError, match=re.escape(problem)):
        split_line(line)
