"""Start a service in its own session, wait for its health check, stop it cleanly.

Services are started with ``posix_spawn(setsid=True)`` (what ``Popen(start_new_session=True)``
does, minus a ``Popen`` object that would warn when ``mer up`` exits before its children), with
stdin from /dev/null and stdout and stderr into the service's log file. Settings and tokens
reach them through the environment only.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from mer_repl.problems import CommandFailed
from mer_repl.stack.state import alive, signal_group

_RESET = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE)


def program_path(program: str) -> str:
    """A MER console script: beside this interpreter first, else on PATH."""
    here = Path(sys.executable).parent / program
    if here.is_file():
        return str(here)
    found = shutil.which(program)
    if found is None:
        raise CommandFailed(f"cannot find {program}: is MER installed in this environment?")
    return found


def spawn(program: str, env: Mapping[str, str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        log.replace(log.with_suffix(".log.1"))
    path = program_path(program)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), flags, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(
        path, [path], dict(env), file_actions=actions, setsid=True, setsigdef=_RESET
    )


def wait_healthy(program: str, pid: int, url: str, log: Path, timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail with the log's tail if the process dies first."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if not alive(pid, program):
                raise CommandFailed(f"{program} exited while starting:\n{tail(log)}")
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise CommandFailed(f"{program} did not answer {url} within {timeout:.0f}s:\n{tail(log)}")


def stop(program: str, pid: int, timeout: float) -> str:
    """SIGTERM its process group, wait, SIGKILL after ``timeout``; say which it took."""
    if not alive(pid, program):
        return "was not running"
    signal_group(pid, signal.SIGTERM)
    if _wait_gone(program, pid, timeout):
        return "stopped"
    signal_group(pid, signal.SIGKILL)
    if _wait_gone(program, pid, 5.0):
        return f"killed (did not stop within {timeout:.0f}s)"
    raise CommandFailed(f"{program} (pid {pid}) survived SIGKILL")


def _wait_gone(program: str, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, program):
            return True
        time.sleep(0.1)
    return not alive(pid, program)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    return "\n".join(f"  {line}" for line in text.splitlines()[-lines:]) or f"(empty log {log})"
