"""Run one command line: look it up, parse it, check it may change the registry, call it.

Every failure ends here as an ``Outcome`` with one clear message and an exit code; nothing
the user typed or a service answered ever shows a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from mer_core.errors import MerError
from pydantic import ValidationError

from mer_repl.lexer import split_line
from mer_repl.parsing import parse
from mer_repl.problems import (
    EXIT_FAILED,
    EXIT_USAGE,
    CommandFailed,
    UsageError,
    exit_code_of,
)
from mer_repl.registry import Registry
from mer_repl.result import Result
from mer_repl.session import Session


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result | None = None
    error: str | None = None
    kind: str = ""
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


async def execute(session: Session, registry: Registry, line: str | list[str]) -> Outcome:
    """Run ``line`` (text, or words already split) and say how it went."""
    try:
        words = split_line(line) if isinstance(line, str) else list(line)
        result = await _run(session, registry, words)
    except UsageError as exc:
        return Outcome(error=str(exc), kind=exc.kind, exit_code=EXIT_USAGE)
    except CommandFailed as exc:
        return Outcome(error=exc.message, kind=exc.kind, exit_code=EXIT_FAILED)
    except MerError as exc:
        return Outcome(error=exc.message, kind=exc.kind, exit_code=exit_code_of(exc))
    except ValidationError as exc:
        return Outcome(error=describe_validation(exc), kind="usage", exit_code=EXIT_USAGE)
    except OSError as exc:
        return Outcome(error=_describe_os_error(exc), kind="os_error", exit_code=EXIT_FAILED)
    except Exception as exc:
        # A bug in the driver: still one line, so a scheduler's log stays readable.
        text = f"internal error: {type(exc).__name__}: {exc}"
        return Outcome(error=text, kind="internal", exit_code=EXIT_FAILED)
    return Outcome(result=result, exit_code=result.exit_code)


async def _run(session: Session, registry: Registry, words: list[str]) -> Result:
    command, rest = registry.resolve(words)
    if command.changes_config:
        session.check_may_change(command.name)
    try:
        args = parse(command.name, command.params, rest)
    except UsageError as exc:
        hint = registry.suggest_sub(command.name, rest[0]) if rest else None
        if hint and " " not in command.name:
            exc.message += f" — did you mean {hint!r}?"
        raise
    return await command.handler(session, args)


def describe_validation(exc: ValidationError) -> str:
    """The first problem pydantic found, as ``invalid NAME: reason``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "value"
    return f"invalid {where}: {first['msg']}"


def _describe_os_error(exc: OSError) -> str:
    if exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc)
