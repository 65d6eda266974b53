"""One process at a time on an embedded database directory.

The embedded SurrealDB engine (surrealkv) does not lock its directory: a second process opens it
and writes beside the first, which corrupts it. So every MER process that opens an embedded
database (the migrator, the DAL) first takes an exclusive ``flock`` on ``DIR/mer.lock`` and holds
it until it has closed the database. The kernel drops the lock when its process dies, so a crash
leaves nothing stale. The lock file also says who holds it (role, host, pid, since), for the
message the next process shows.

    with hold_embedded_db(settings.db_url, role="mer-dal"):
        ...  # open, use and close the database
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from mer_core.errors import Unavailable

LOCK_FILE = "mer.lock"
EMBEDDED_DIR_SCHEMES = ("surrealkv://", "surrealkv+versioned://", "file://", "rocksdb://")


def embedded_db_dir(db_url: str) -> Path | None:
    """The directory of an embedded on-disk database URL, or ``None`` (``mem://``, ``ws://``…)."""
    for scheme in EMBEDDED_DIR_SCHEMES:
        if db_url.startswith(scheme):
            rest = db_url[len(scheme) :]
            return Path(rest) if rest else None
    return None


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a database lock."""

    role: str
    host: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"{self.role} pid {self.pid} on {self.host} since {self.since}"


class DatabaseInUse(Unavailable):
    """Another process holds the embedded database directory."""

    kind = "database_in_use"

    def __init__(self, message: str, holder: LockHolder | None) -> None:
        super().__init__(message)
        self.holder = holder


class EmbeddedDbLock:
    """The exclusive lock on one database directory; ``try_acquire`` never blocks."""

    def __init__(self, db_dir: Path, role: str) -> None:
        self.db_dir = db_dir
        self.path = db_dir / LOCK_FILE
        self.role = role
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; on success, write who holds it into the lock file."""
        if self._file is not None:
            return True
        self.db_dir.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        except BaseException:
            handle.close()
            raise
        me = LockHolder(self.role, socket.gethostname(), os.getpid(), datetime.now(UTC).isoformat())
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(me.__dict__))
        handle.flush()
        self._file = handle
        return True

    def holder(self) -> LockHolder | None:
        """Who the lock file says holds the lock (``None`` if unknown or unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return LockHolder(str(data["role"]), str(data["host"]), int(data["pid"]), data["since"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def in_use_message(db_dir: Path, holder: LockHolder | None) -> str:
    who = holder.describe() if holder else "a running DAL?"
    return (
        f"database {db_dir} is in use by another process ({who}): stop it first or point "
        "MER_DB_URL / --db at the DAL's SurrealDB server (ws://HOST:PORT)"
    )


@contextlib.contextmanager
def hold_embedded_db(
    db_url: str,
    *,
    role: str,
    timeout_s: float = 0.0,
    poll_s: float = 0.1,
    wait_for: Callable[[LockHolder | None], bool] | None = None,
) -> Iterator[Path | None]:
    """Hold the lock of ``db_url``'s directory for the block (no-op for non-embedded URLs).

    Waits up to ``timeout_s`` while the directory is held (only while ``wait_for(holder)`` says
    so, when given), then raises ``DatabaseInUse`` with a message that names the holder.
    """
    db_dir = embedded_db_dir(db_url)
    if db_dir is None:
        yield None
        return
    lock = EmbeddedDbLock(db_dir, role)
    deadline = time.monotonic() + timeout_s
    while not lock.try_acquire():
        holder = lock.holder()
        if time.monotonic() >= deadline or (wait_for is not None and not wait_for(holder)):
            raise DatabaseInUse(in_use_message(db_dir, holder), holder)
        time.sleep(poll_s)
    try:
        yield db_dir
    finally:
        lock.release()
