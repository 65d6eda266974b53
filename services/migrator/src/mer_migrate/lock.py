"""The migration lock inside a SurrealDB server: one migrator at a time per database.

An embedded database is locked by its directory (``mer_core.dblock``); a server shared over
``ws://`` gets this record lock instead: ``migration_lock:current``, created in a transaction that
first deletes an expired one. A holder that crashed is taken over when its TTL has passed, or at
once when it ran on this host and its pid is gone. A live holder refreshes the TTL after each
script.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from mer_migrate.db import Database, QueryFailed
from mer_migrate.errors import DatabaseUnavailable
from mer_migrate.history import who

SCHEMA = """
DEFINE TABLE IF NOT EXISTS migration_lock SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS token ON migration_lock TYPE string;
DEFINE FIELD IF NOT EXISTS host ON migration_lock TYPE string;
DEFINE FIELD IF NOT EXISTS user ON migration_lock TYPE string;
DEFINE FIELD IF NOT EXISTS pid ON migration_lock TYPE int;
DEFINE FIELD IF NOT EXISTS since ON migration_lock TYPE datetime;
DEFINE FIELD IF NOT EXISTS expires_at ON migration_lock TYPE datetime;
"""

ACQUIRE = """
BEGIN TRANSACTION;
DELETE migration_lock:current WHERE expires_at < time::now();
CREATE migration_lock:current CONTENT $lock;
COMMIT TRANSACTION;
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MigrationLock:
    """The record lock; ``acquire`` waits up to ``timeout_s`` for another holder to go."""

    def __init__(
        self, db: Database, *, ttl_s: float, timeout_s: float, poll_s: float = 0.2
    ) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.token = secrets.token_hex(16)
        self.host, self.user = who()
        self.pid = os.getpid()

    async def acquire(self) -> None:
        await self.db.query(SCHEMA)
        deadline = time.monotonic() + self.timeout_s
        while True:
            now = datetime.now(UTC)
            lock = {
                "token": self.token,
                "host": self.host,
                "user": self.user,
                "pid": self.pid,
                "since": now,
                "expires_at": now + timedelta(seconds=self.ttl_s),
            }
            try:
                await self.db.query(ACQUIRE, {"lock": lock})
            except QueryFailed as exc:
                holder = await self.holder()
                if holder is None:  # released between our attempt and our look, or a real error
                    if time.monotonic() >= deadline:
                        raise DatabaseUnavailable(f"cannot take the migration lock: {exc}") from exc
                    await asyncio.sleep(self.poll_s)
                    continue
                if holder["host"] == self.host and not pid_alive(int(holder["pid"])):
                    await self._take_over(holder)
                    continue
                if time.monotonic() >= deadline:
                    raise DatabaseUnavailable(
                        f"database is locked by {holder['host']} pid {holder['pid']} since "
                        f"{holder['since']:%Y-%m-%d %H:%M:%S} UTC (waited {self.timeout_s:g}s, "
                        f"see --lock-timeout; the lock expires at "
                        f"{holder['expires_at']:%Y-%m-%d %H:%M:%S} UTC)"
                    ) from None
                await asyncio.sleep(self.poll_s)
            else:
                return

    async def holder(self) -> dict[str, Any] | None:
        [rows] = await self.db.query("SELECT * FROM migration_lock:current;")
        return rows[0] if rows else None

    async def _take_over(self, holder: dict[str, Any]) -> None:
        """Delete the lock of a dead process on this host (only that one, by its token)."""
        await self.db.query(
            "DELETE migration_lock:current WHERE token = $lock_token;",
            {"lock_token": holder["token"]},
        )

    async def refresh(self) -> None:
        await self.db.query(
            "UPDATE migration_lock:current SET expires_at = $expires WHERE token = $lock_token;",
            {
                "lock_token": self.token,
                "expires": datetime.now(UTC) + timedelta(seconds=self.ttl_s),
            },
        )

    async def release(self) -> None:
        await self.db.query(
            "DELETE migration_lock:current WHERE token = $lock_token;", {"lock_token": self.token}
        )


@asynccontextmanager
async def migration_lock(
    db: Database, *, ttl_s: float, timeout_s: float
) -> AsyncIterator[MigrationLock]:
    lock = MigrationLock(db, ttl_s=ttl_s, timeout_s=timeout_s)
    await lock.acquire()
    try:
        yield lock
    finally:
        await lock.release()
