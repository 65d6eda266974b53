"""The REPL's history file: private to its owner, and never a line that looks like a secret.

No command takes a secret (tokens come from the environment or ``.env`` only), so this filter
is a second guard: a token pasted by mistake stays out of the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prompt_toolkit.history import FileHistory

_SECRET = re.compile(r"(token|secret|passw(or)?d|api[_-]?key|bearer)", re.IGNORECASE)


def looks_secret(line: str) -> bool:
    return bool(_SECRET.search(line))


class PrivateFileHistory(FileHistory):
    """A ``FileHistory`` with mode 0600 that skips lines which look like they hold a secret."""

    def __init__(self, path: Path) -> None:
        path = path.expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        os.close(fd)
        super().__init__(str(path))

    def append_string(self, string: str) -> None:
        if looks_secret(string):
            return
        super().append_string(string)
