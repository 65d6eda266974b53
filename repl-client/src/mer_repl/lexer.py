"""Split a command line into words: shell quoting, plus JSON literals kept whole.

``run iris [[5.1, 3.5, 1.4, 0.2]]`` and ``run m {"input": [[1, 2]]}`` must reach the command
as one verbatim word each, so a word that starts with ``[`` or ``{`` runs to its matching bracket
(strings inside it respected) instead of being split on spaces and stripped of quotes by shlex.
"""

from __future__ import annotations

import io
import shlex

from mer_repl.problems import UsageError

_CLOSE = {"[": "]", "{": "}"}


def split_line(line: str) -> list[str]:
    """The words of ``line``; a ``UsageError`` for an unclosed quote or bracket."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
        elif line[i] in _CLOSE:
            end = _bracket_end(line, i)
            words.append(line[i:end])
            i = end
        else:
            word, i = _shell_word(line, i)
            words.append(word)
    return words


def _bracket_end(line: str, start: int) -> int:
    stack: list[str] = []
    in_string = escaped = False
    for i in range(start, len(line)):
        c = line[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in _CLOSE:
            stack.append(_CLOSE[c])
        elif c in "]}":
            if not stack or stack.pop() != c:
                raise UsageError(f"unbalanced {c!r} in {line[start : i + 1]!r}")
            if not stack:
                return i + 1
    raise UsageError(f"unclosed {line[start]!r} in {line[start:]!r}")


def _shell_word(line: str, start: int) -> tuple[str, int]:
    stream = io.StringIO(line[start:])
    lex = shlex.shlex(stream, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        word = lex.get_token()
    except ValueError as exc:
        raise UsageError(f"{exc} in {line[start:]!r}") from None
    consumed = stream.tell()
    return word or "", start + max(consumed, 1)
