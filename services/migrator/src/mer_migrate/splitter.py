"""Split a SurrealQL script into its statements, so each result entry maps back to one.

SurrealDB answers a multi-statement query with one result entry per statement it ran; comments and
empty statements give none. The splitter knows strings ('…', "…", with backslash escapes),
identifiers (`…`, ⟨…⟩), comments (``--``, ``//``, ``#``, ``/* */``) and nesting ({…}, (…),
[…]), and splits only on a ``;`` outside all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = {"{": "}", "(": ")", "[": "]"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_QUOTES = {"'": "'", '"': '"', "`": "`", "⟨": "⟩"}
_FIRST_WORD = re.compile(r"[A-Za-z_]+")


class SplitError(ValueError):
    """The script is not well formed: an unterminated string, comment or bracket."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Statement:
    """One statement: its number in the script (from 1), the line it starts on, its text."""

    number: int
    line: int
    text: str

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0].strip()

    @property
    def keyword(self) -> str:
        """The statement's first word, upper case (``DEFINE``, ``CREATE``, ``BEGIN``…)."""
        match = _FIRST_WORD.match(self.text)
        return match.group(0).upper() if match else ""


def split_statements(text: str) -> list[Statement]:
    """The statements of ``text``, without comments around them, numbered from 1."""
    scanner = _Scanner(text)
    return scanner.run()


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.statements: list[Statement] = []
        self.start: int | None = None  # offset of the current statement's first code character
        self.start_line = 1
        self.stack: list[tuple[str, int]] = []

    def run(self) -> list[Statement]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\n":
                self.line += 1
                self.pos += 1
            elif char.isspace():
                self.pos += 1
            elif text.startswith(("--", "//"), self.pos) or char == "#":
                self._skip_to_line_end()
            elif text.startswith("/*", self.pos):
                self._skip_block_comment()
            elif char == ";" and not self.stack:
                self._end_statement(self.pos)
                self.pos += 1
            else:
                self._mark_start()
                if char in _QUOTES:
                    self._skip_quoted(char)
                elif char in _OPEN:
                    self.stack.append((char, self.line))
                    self.pos += 1
                elif char in _CLOSE:
                    if not self.stack or self.stack[-1][0] != _CLOSE[char]:
                        raise SplitError(f"unmatched '{char}'", self.line)
                    self.stack.pop()
                    self.pos += 1
                else:
                    self.pos += 1
        if self.stack:
            opener, line = self.stack[-1]
            raise SplitError(f"'{opener}' is never closed", line)
        self._end_statement(len(text))
        return self.statements

    def _mark_start(self) -> None:
        if self.start is None:
            self.start = self.pos
            self.start_line = self.line

    def _end_statement(self, end: int) -> None:
        if self.start is not None:
            body = self.text[self.start : end].rstrip()
            self.statements.append(Statement(len(self.statements) + 1, self.start_line, body))
        self.start = None

    def _skip_to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def _skip_block_comment(self) -> None:
        end = self.text.find("*/", self.pos + 2)
        if end < 0:
            raise SplitError("'/*' comment is never closed", self.line)
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end + 2

    def _skip_quoted(self, quote: str) -> None:
        closer = _QUOTES[quote]
        opened_on = self.line
        pos = self.pos + 1
        text = self.text
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                if pos + 1 < len(text) and text[pos + 1] == "\n":
                    self.line += 1
                pos += 2
                continue
            if char == "\n":
                self.line += 1
            if char == closer:
                self.pos = pos + 1
                return
            pos += 1
        raise SplitError(f"{quote}…{closer} is never closed", opened_on)
