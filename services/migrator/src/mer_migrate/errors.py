"""The migrator's errors, each with the exit code the CLI answers with.

MigrateError                  (MerError)
├── UsageError            2   bad option, URL, sql dir or script name given by the user
├── ValidationError       2   the scripts or the history disagree (names, gaps, checksums)
├── ScriptFailed          1   a statement of a script failed; the script was rolled back
└── DatabaseUnavailable   3   the database cannot be reached, is in use, or stays locked
"""

from __future__ import annotations

from typing import Any, ClassVar

from mer_core.errors import MerError


class MigrateError(MerError):
    """Base of every error the migrator reports to its user (never as a traceback)."""

    exit_code: ClassVar[int] = 2


class UsageError(MigrateError):
    kind = "usage"
    exit_code = 2


class ValidationError(MigrateError):
    """The scripts on disk or the recorded history fail a check; ``problems`` lists each."""

    kind = "validation"
    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.problems = problems or []

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  - {p}" for p in self.problems)])


class ScriptFailed(MigrateError):
    """A script did not apply; nothing of it is left in the database."""

    kind = "script_failed"
    exit_code = 1

    def __init__(
        self,
        script: str,
        error: str,
        statement: int | None = None,
        first_line: str | None = None,
    ) -> None:
        where = f"statement {statement}" if statement is not None else "the script"
        text = f"{script}: {where} failed"
        if first_line:
            text += f" ({first_line})"
        super().__init__(f"{text}: {error}")
        self.script = script
        self.error = error
        self.statement = statement
        self.first_line = first_line


class DatabaseUnavailable(MigrateError):
    kind = "unavailable"
    exit_code = 3
