"""The one result type every command returns, whatever it did.

A ``Result`` carries two views of the same answer: ``data``, the JSON document that
``--output json`` prints, and ``blocks``, what a person sees (tables and lines of text), which
``render`` turns into rich output. Handlers never print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mer_repl.problems import EXIT_OK


@dataclass(frozen=True, slots=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    style: str | None = None


Block = Table | Text


@dataclass(frozen=True, slots=True)
class Result:
    data: Any
    blocks: Sequence[Block] = field(default_factory=tuple)
    exit_code: int = EXIT_OK
    quit: bool = False
    changed: bool = False
    """The command changed the registry (the completion catalog is refreshed after it)."""


def message(text: str, data: Any = None, *, changed: bool = False) -> Result:
    """A result that is one line for a person and ``{"message": ...}`` (or ``data``) as JSON."""
    doc = data if data is not None else {"message": text}
    return Result(data=doc, blocks=(Text(text),), changed=changed)
