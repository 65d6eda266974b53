"""What the driver itself refuses, beside the services' ``mer_core.errors``, and exit codes.

    UsageError                 exit 2: unknown command, wrong or missing argument
    ├── ChangesNotAllowed      a registry change without ``--allow-config-changes``
    └── NotConfigured          a setting the command needs (a token) is missing

    CommandFailed              exit 1: the command ran and could not do its job

Service errors (``MerError``) exit 1, or 3 when the service cannot be reached at all.
"""

from __future__ import annotations

import httpx
from mer_core.errors import Conflict, MerError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class UsageError(Exception):
    """The line cannot run as typed; ``syntax`` is the command's usage line, when known."""

    kind = "usage"

    def __init__(self, message: str, syntax: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.syntax = syntax

    def __str__(self) -> str:
        if self.syntax:
            return f"{self.message}\nusage: {self.syntax}"
        return self.message


class ChangesNotAllowed(UsageError):
    kind = "changes_not_allowed"


class NotConfigured(UsageError):
    kind = "not_configured"


class CommandFailed(Exception):
    """The command could not do its job for a reason of its own (not a service's answer)."""

    kind = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def force_hint(exc: Conflict) -> Conflict:
    """The DAL's refusal of a delete, told in the driver's terms (``--force``)."""
    text = exc.message.replace("delete with force=true", "add --force")
    text = text.replace("force=true", "--force")
    return type(exc)(text)


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a connection that never got an answer."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError | ConnectionError):
            return True
        seen = seen.__cause__
    return False


def exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, MerError) and is_unreachable(exc):
        return EXIT_UNREACHABLE
    return EXIT_FAILED
