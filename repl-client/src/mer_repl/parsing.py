"""A small typed parser per command: words in, named and converted arguments out.

Each command declares its ``Param``s; ``parse`` matches words to them and reports the first
problem in one line that names the argument, with the command's syntax beneath it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mer_repl.problems import UsageError

Completion = Literal["none", "model", "server", "version", "file"]
"""What the completer offers for a parameter's value."""


@dataclass(frozen=True, slots=True)
class Param:
    """A positional (``MODEL``) or an option (``--note``); ``flag`` options take no value."""

    name: str
    help: str = ""
    metavar: str = ""
    required: bool = True
    flag: bool = False
    many: bool = False
    convert: Callable[[str], Any] = str
    complete: Completion = "none"
    choices: tuple[str, ...] = ()
    """Words the completer offers besides ``complete``'s (``max_batch_size=``, ...)."""

    @property
    def is_option(self) -> bool:
        return self.name.startswith("--")

    @property
    def key(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lstrip("-").lower()).strip("_")

    @property
    def usage(self) -> str:
        if self.flag:
            text = self.name
        elif self.is_option:
            text = f"{self.name} {self.metavar or self.key.upper()}"
        else:
            text = f"{self.name}..." if self.many else self.name
        return text if self.required else f"[{text}]"


def positional(name: str, help: str = "", **kw: Any) -> Param:
    return Param(name, help, **kw)


def option(name: str, metavar: str, help: str = "", **kw: Any) -> Param:
    return Param(name, help, metavar=metavar, required=kw.pop("required", False), **kw)


def flag(name: str, help: str = "") -> Param:
    return Param(name, help, required=False, flag=True)


def syntax_of(command: str, params: Sequence[Param]) -> str:
    return " ".join([command, *(p.usage for p in params)])


class Args(Mapping[str, Any]):
    """Parsed arguments by key: ``MODEL`` -> ``model``, ``--output-name`` -> ``output_name``,
    ``KEY=VALUE`` -> ``key_value``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def text(self, key: str) -> str:
        return str(self._values[key])

    def maybe(self, key: str) -> Any | None:
        return self._values.get(key)

    def flag(self, key: str) -> bool:
        return bool(self._values.get(key, False))

    def words(self, key: str) -> list[Any]:
        return list(self._values.get(key, []))


def parse(command: str, params: Sequence[Param], words: Sequence[str]) -> Args:
    """Match ``words`` (after the command's name) to ``params``; a clear ``UsageError`` if not."""
    syntax = syntax_of(command, params)
    options = {p.name: p for p in params if p.is_option}
    slots = [p for p in params if not p.is_option]
    values: dict[str, Any] = {}
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word.startswith("--") and len(word) > 2:
            name, eq, inline = word.partition("=")
            param = options.get(name)
            if param is None:
                known = ", ".join(options) or "none"
                raise UsageError(f"{command}: unknown option {name!r} (options: {known})", syntax)
            if param.flag:
                if eq:
                    raise UsageError(f"{command}: {name} takes no value", syntax)
                values[param.key] = True
                continue
            if not eq:
                if not rest:
                    raise UsageError(f"{command}: {name} needs a value ({param.metavar})", syntax)
                inline = rest.pop(0)
            values[param.key] = _convert(command, param, inline, syntax)
            continue
        if not slots:
            raise UsageError(f"{command}: unexpected argument {word!r}", syntax)
        param = slots[0]
        value = _convert(command, param, word, syntax)
        if param.many:
            values.setdefault(param.key, []).append(value)
        else:
            values[param.key] = value
            slots.pop(0)
    for param in params:
        if param.required and param.key not in values:
            what = param.usage if param.is_option else param.name
            raise UsageError(f"{command}: missing {what}", syntax)
        if param.flag:
            values.setdefault(param.key, False)
    return Args(values)


def _convert(command: str, param: Param, word: str, syntax: str) -> Any:
    try:
        return param.convert(word)
    except ValueError as exc:
        label = param.name if not param.is_option else f"{param.name} {param.metavar}"
        raise UsageError(f"{command}: bad {label} {word!r}: {exc}", syntax) from None


# --- converters: raise ValueError with a short reason ----------------------------------------


def count(word: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(word)
    except ValueError:
        raise ValueError("not a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def count_up_to(most: int) -> Callable[[str], int]:
    """A converter for a whole number in 1..``most`` (a bound the service would refuse past)."""

    def convert(word: str) -> int:
        try:
            value = int(word)
        except ValueError:
            raise ValueError(f"not a whole number (1..{most})") from None
        if not 1 <= value <= most:
            raise ValueError(f"must be in 1..{most}")
        return value

    return convert


def key_value(word: str) -> tuple[str, str]:
    key, eq, value = word.partition("=")
    if not eq or not key:
        raise ValueError("expected KEY=VALUE")
    return key.strip(), value


def existing_file(word: str) -> Path:
    """A path to a file that exists here (``~`` expanded)."""
    path = Path(word).expanduser()
    if not path.is_file():
        raise ValueError("no such file" if not path.exists() else "not a file")
    return path


def registry_name(word: str) -> str:
    """A name of a server, model or weight version, as the registry accepts it."""
    from mer_core.schemas.registry import NAME_PATTERN

    if not re.match(NAME_PATTERN, word):
        raise ValueError("use letters, digits and _ . - (starting with a letter or digit, ≤ 63)")
    return word
