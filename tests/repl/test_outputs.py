from __future__ import annotations

import io
import json

import numpy as np
from mer_repl.execute import Outcome
from mer_repl.outputs import SHOWN_ROWS, outputs_result
from mer_repl.render import json_document, show_outcome, show_result
from mer_repl.result import Result, Table, Text
from rich.console import Console


def rendered(result: Result) -> str:
    out = io.StringIO()
    show_result(result, Console(file=out, width=120))
    return out.getvalue()


def test_small_answer_is_one_table_and_flat_json() -> None:
    label = np.array([0, 2], dtype=np.int64)
    probabilities = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7]], dtype=np.float32)
    result = outputs_result("iris", None, {"label": label, "probabilities": probabilities})
    doc = json.loads(json_document(result.data))
    assert doc["outputs"]["label"] == {"shape": [2], "datatype": "INT64", "data": [0, 2]}
    assert doc["outputs"]["probabilities"]["shape"] == [2, 3]
    assert doc["outputs"]["probabilities"]["datatype"] == "FP32"
    assert len(doc["outputs"]["probabilities"]["data"]) == 6
    (table,) = result.blocks
    assert isinstance(table, Table)
    assert list(table.columns) == ["row", "label", "probabilities"]
    assert table.rows[1] == ["1", "2", "[0.1, 0.2, 0.7]"]
    assert "probabilities" in rendered(result)


def test_large_answer_shows_its_shape_and_first_rows() -> None:
    label = np.arange(360, dtype=np.int64) % 10
    result = outputs_result("digits", "v2", {"label": label})
    summary, table = result.blocks
    assert isinstance(summary, Text)
    assert summary.text.startswith("360 rows: label INT64[360]")
    assert isinstance(table, Table)
    assert len(table.rows) == SHOWN_ROWS
    assert len(result.data["outputs"]["label"]["data"]) == 360
    assert result.data["weights"] == "v2"


def test_outputs_of_different_lengths_are_shown_apart() -> None:
    result = outputs_result(
        "m", None, {"a": np.zeros((2, 2)), "b": np.array(1.5, dtype=np.float32)}
    )
    texts = [b.text for b in result.blocks if isinstance(b, Text)]
    assert texts[0].startswith("a FP64[2, 2]")
    assert texts[1].startswith("b FP32[]")


def test_markup_in_values_is_printed_literally() -> None:
    result = outputs_result("m", None, {"s": np.array(["[bold]x[/bold]"], dtype=object)})
    assert "[bold]x[/bold]" in rendered(result)


def test_control_characters_from_services_are_shown_escaped() -> None:
    """A model name or description like ESC[2J would clear the operator's screen."""
    evil = "\x1b[2J\x1b[31mEVIL\x07\x7f\x9b"
    result = Result(
        data={"name": evil},
        blocks=(
            Table(["name", "description"], [[evil, "[red]x[/red]\nsecond"]], f"model {evil}"),
            Text(f"note: {evil}\nnext line [bold]y[/bold]"),
        ),
    )
    shown = rendered(result)
    assert not any(ch in shown for ch in "\x1b\x07\x7f\x9b")
    assert r"\x1b[2J\x1b[31mEVIL\x07\x7f\x9b" in shown
    assert "[red]x[/red]\\x0asecond" in shown  # a cell stays on one line
    assert "next line [bold]y[/bold]" in shown.splitlines()[-1]  # text keeps its lines
    assert json.loads(json_document(result.data)) == {"name": evil}
    assert "\x1b" not in json_document(result.data)


def test_error_messages_are_escaped_too() -> None:
    out, err = io.StringIO(), io.StringIO()
    outcome = Outcome(error="model '\x1b[2J[red]m' not found", kind="not_found", exit_code=1)
    show_outcome(outcome, Console(file=out), Console(file=err, width=120), "table")
    assert err.getvalue() == "error: model '\\x1b[2J[red]m' not found\n"
