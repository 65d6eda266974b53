"""Completion of command names, options, and model, server, version and file names.

The completer is pure: it reads a ``Catalog`` snapshot through a callable and never touches the
network, so it answers at typing speed; ``refresher.CatalogRefresher`` fills the catalog in the
background (pgcli's completer / completion_refresher split).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from mer_repl.lexer import split_line
from mer_repl.parsing import Param
from mer_repl.problems import UsageError
from mer_repl.registry import Command, Registry


@dataclass(frozen=True, slots=True)
class Catalog:
    """The names completion offers, as last read from the DAL."""

    models: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class MerCompleter(Completer):
    def __init__(self, registry: Registry, catalog: Callable[[], Catalog]) -> None:
        self._registry = registry
        self._catalog = catalog
        self._paths = PathCompleter(expanduser=True)

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        words, current = _split_before_cursor(document.text_before_cursor)
        if not words:
            yield from self._first_words(current)
            return
        found = self._command_of(words)
        if len(words) == 1:
            subs = self._registry.subcommands(words[0])
            yield from _matching(current, subs, meta="subcommand")
        if found is None:
            return
        command, rest = found
        yield from self._arguments(command, rest, current, complete_event)

    def _first_words(self, current: str) -> Iterator[Completion]:
        for word in self._registry.first_words:
            if word.startswith(current):
                command = self._registry.get(word)
                meta = command.summary if command else "…"
                yield Completion(word, -len(current), display_meta=meta)

    def _command_of(self, words: Sequence[str]) -> tuple[Command, list[str]] | None:
        if len(words) >= 2 and (two := self._registry.get(f"{words[0]} {words[1]}")):
            return two, list(words[2:])
        if one := self._registry.get(words[0]):
            return one, list(words[1:])
        return None

    def _arguments(
        self, command: Command, rest: list[str], current: str, event: CompleteEvent
    ) -> Iterator[Completion]:
        options = {p.name: p for p in command.params if p.is_option}
        if current.startswith("-"):
            unused = [name for name in options if name not in rest]
            yield from _matching(current, unused, meta="option")
            return
        if rest and (wanting := options.get(rest[-1])) is not None and not wanting.flag:
            yield from self._values(wanting, command, rest, current, event)
            return
        slots = [p for p in command.params if not p.is_option]
        index = _positional_count(rest, options)
        if index < len(slots):
            yield from self._values(slots[index], command, rest, current, event)
        elif slots and slots[-1].many:
            yield from self._values(slots[-1], command, rest, current, event)

    def _values(
        self, param: Param, command: Command, rest: list[str], current: str, event: CompleteEvent
    ) -> Iterable[Completion]:
        catalog = self._catalog()
        yield from _matching(current, param.choices, meta="setting")
        if param.complete == "model":
            yield from _matching(current, catalog.models, meta="model")
        elif param.complete == "server":
            yield from _matching(current, catalog.servers, meta="server")
        elif param.complete == "version":
            model = _model_argument(command, rest)
            yield from _matching(current, catalog.versions.get(model or "", ()), meta="weights")
        elif param.complete == "file" and not current.startswith(("[", "{")):
            yield from self._paths.get_completions(Document(current), event)


def _split_before_cursor(text: str) -> tuple[list[str], str]:
    """The finished words before the cursor, and the word being typed ("" after a space)."""
    try:
        words = split_line(text)
    except UsageError:
        words = text.split()
    if not text or text[-1].isspace():
        return words, ""
    return words[:-1], words[-1] if words else ""


def _positional_count(rest: Sequence[str], options: Mapping[str, Param]) -> int:
    count, skip = 0, False
    for word in rest:
        if skip:
            skip = False
        elif word in options:
            skip = not options[word].flag
        elif not word.startswith("--"):
            count += 1
    return count


def _model_argument(command: Command, rest: Sequence[str]) -> str | None:
    """The model a line names so far: the value typed for the command's first model slot."""
    options = {p.name: p for p in command.params if p.is_option}
    slots = [p for p in command.params if not p.is_option]
    positionals: list[str] = []
    skip = False
    for word in rest:
        if skip:
            skip = False
        elif word in options:
            skip = not options[word].flag
        elif not word.startswith("--"):
            positionals.append(word)
    for param, value in zip(slots, positionals, strict=False):
        if param.complete == "model":
            return value
    return None


def _matching(current: str, words: Iterable[str], *, meta: str) -> Iterator[Completion]:
    for word in sorted(set(words)):
        if word.startswith(current) and word != current:
            yield Completion(word, -len(current), display_meta=meta)
