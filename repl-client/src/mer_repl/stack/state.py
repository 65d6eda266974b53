"""Where the local stack keeps its pid files and logs: ``STATE_DIR/run`` and ``STATE_DIR/logs``.

Each service has ``NAME.pid`` (the pid alone, for other tools) and ``NAME.json`` (the pid, the
program, its URL, health URL and log file, for ``mer status`` and ``mer down``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    program: str
    pid: int
    url: str
    health_url: str
    log: str
    started_at: str


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.run = root / "run"
        self.logs = root / "logs"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def read(self, name: str) -> Record | None:
        """The record of ``name``, or None when there is none (or it cannot be read)."""
        info = self.run / f"{name}.json"
        try:
            doc = json.loads(info.read_text())
            return Record(**doc)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            self.remove(name)
            return None

    def write(self, record: Record) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / f"{record.name}.pid").write_text(f"{record.pid}\n")
        info = self.run / f"{record.name}.json"
        tmp = info.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2))
        tmp.replace(info)

    def remove(self, name: str) -> None:
        for suffix in (".pid", ".json"):
            (self.run / f"{name}{suffix}").unlink(missing_ok=True)


def alive(pid: int, program: str) -> bool:
    """Whether ``pid`` still runs ``program`` (not a zombie, not a reused pid)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process now holds that pid
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True  # no procfs here: a signal-able pid is the best we know
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"} and program in cmdline


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status when it is our own child (``mer up`` waiting on it)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group ``pid`` leads (its own session), or the pid alone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)
