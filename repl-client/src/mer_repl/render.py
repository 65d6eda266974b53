"""How results and errors reach a person (rich tables) or a program (one JSON document).

Everything shown passes through ``_safe``: names, descriptions and log rows come from services
that anyone with a token can write to, so rich markup is never read from them and control
characters (an ESC that clears the screen) are shown as ``\\x1b`` rather than sent to the
terminal. JSON output needs none of this: ``json.dumps`` escapes control characters itself.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from mer_repl.execute import Outcome
from mer_repl.result import Result, Table, Text

OutputMode = Literal["table", "json"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _safe(text: str, *, lines: bool = False) -> str:
    """``text`` for the terminal: markup escaped, control characters as ``\\xNN``; ``lines``
    keeps newlines (a block of text), else a cell stays on its one line."""
    pattern = _CONTROL_BUT_NEWLINE if lines else _CONTROL
    return escape(pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def show_result(result: Result, console: Console) -> None:
    """Tables and lines of text; values are printed literally, never read as rich markup."""
    for block in result.blocks:
        if isinstance(block, Table):
            console.print(_rich_table(block))
        elif isinstance(block, Text):
            console.print(_safe(block.text, lines=True), style=block.style, soft_wrap=True)


def _rich_table(table: Table) -> RichTable:
    title = _safe(table.title) if table.title is not None else None
    rich = RichTable(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    for column in table.columns:
        rich.add_column(_safe(column), overflow="fold")
    for row in table.rows:
        rich.add_row(*(_safe(_text(value)) for value in row))
    if not table.rows:
        rich.caption = "(none)"
    return rich


def _text(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def json_document(data: Any) -> str:
    """Compact, one line; NaN and infinity are written as JavaScript does (Python reads them)."""
    return json.dumps(data, ensure_ascii=False, default=str)


def show_outcome(outcome: Outcome, out: Console, err: Console, mode: OutputMode) -> None:
    """One command's outcome: its result on ``out``, an error on ``err`` (and as JSON)."""
    if outcome.result is not None:
        if mode == "json":
            out.file.write(json_document(outcome.result.data) + "\n")
        else:
            show_result(outcome.result, out)
        return
    err.print(f"error: {_safe(outcome.error or 'failed', lines=True)}", style="red", soft_wrap=True)
    if mode == "json":
        doc = {"error": outcome.error, "kind": outcome.kind, "exit_code": outcome.exit_code}
        out.file.write(json_document(doc) + "\n")
