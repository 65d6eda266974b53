"""The command registry: each command's name, syntax, help, handler, and whether it changes
the registry; lookup of a typed line, with a suggestion for a mistyped command."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mer_repl.parsing import Args, Param, syntax_of
from mer_repl.problems import UsageError
from mer_repl.result import Result

if TYPE_CHECKING:
    from mer_repl.session import Session

Handler = Callable[["Session", Args], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    handler: Handler
    params: tuple[Param, ...] = ()
    changes_config: bool = False
    details: str = ""

    @property
    def syntax(self) -> str:
        return syntax_of(self.name, self.params)


class Registry:
    """Commands by name; a name may be two words (``model import``), the longer match wins."""

    def __init__(self, commands: Iterable[Command]) -> None:
        self._commands: dict[str, Command] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"command {command.name!r} registered twice")
        self._commands[command.name] = command

    @property
    def commands(self) -> list[Command]:
        return list(self._commands.values())

    @property
    def first_words(self) -> list[str]:
        return sorted({name.split()[0] for name in self._commands})

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def subcommands(self, first: str) -> list[str]:
        """The second words under ``first`` (``server`` -> ``add``, ``rm``, ...)."""
        return [
            name.split()[1]
            for name in self._commands
            if name.startswith(first + " ") and len(name.split()) == 2
        ]

    def resolve(self, words: Sequence[str]) -> tuple[Command, list[str]]:
        """The command a line names and the words after its name."""
        if not words:
            raise UsageError("empty command; type help")
        if len(words) >= 2 and (two := self._commands.get(f"{words[0]} {words[1]}")):
            return two, list(words[2:])
        if one := self._commands.get(words[0]):
            return one, list(words[1:])
        hint = self.suggest(words[0])
        if hint:
            raise UsageError(f"unknown command {words[0]!r} — did you mean {hint!r}? type help")
        raise UsageError(f"unknown command {words[0]!r} — type help")

    def suggest(self, word: str) -> str | None:
        """The nearest command name to a mistyped first word, if one is near enough."""
        close = difflib.get_close_matches(word, self.first_words, n=1, cutoff=0.6)
        return close[0] if close else None

    def suggest_sub(self, first: str, word: str) -> str | None:
        """``model imprt`` -> ``model import``, when ``first`` has subcommands."""
        close = difflib.get_close_matches(word, self.subcommands(first), n=1, cutoff=0.6)
        return f"{first} {close[0]}" if close else None
