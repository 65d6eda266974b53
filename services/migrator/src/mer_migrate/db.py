"""The connection to the MER-DB: URL checks, the directory lock of embedded databases, and a
query helper that checks every statement's result.

Foreign exceptions (surrealdb, websockets, OS errors) are translated here into the migrator's
errors, so the CLI never shows a traceback for an unreachable or busy database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mer_core.dblock import DatabaseInUse, LockHolder, embedded_db_dir, hold_embedded_db
from mer_core.errors import Unavailable
from mer_core.settings import MigratorSettings
from mer_core.surreal import connect

from mer_migrate.errors import DatabaseUnavailable, MigrateError, UsageError

MIGRATOR_ROLE = "mer-migrate"
CONNECT_TIMEOUT_S = 10.0
EMBEDDED_SCHEMES = ("mem://", "memory://", "surrealkv://", "surrealkv+versioned://", "file://")
SERVER_SCHEMES = ("ws://", "wss://")
# The text SurrealDB puts in the entry of every statement of a failed transaction but the one
# that failed.
NOT_EXECUTED = "The query was not executed due to a failed transaction"


class QueryFailed(MigrateError):
    """A statement the migrator itself sent failed."""

    kind = "query_failed"
    exit_code = 1


@dataclass(frozen=True)
class Entry:
    """One statement's result: ``ok`` and its result, or the error text SurrealDB gave."""

    ok: bool
    result: Any

    @property
    def error(self) -> str:
        return "" if self.ok else str(self.result)

    @property
    def not_executed(self) -> bool:
        """True for the placeholder error of a statement that was rolled back with its peers."""
        return not self.ok and self.error.strip() == NOT_EXECUTED


def check_url(url: str) -> None:
    """Refuse a URL the migrator cannot open, with what would work instead."""
    if url.startswith(("http://", "https://")):
        raise UsageError(f"database URL {url}: use ws://HOST:PORT for a SurrealDB server")
    if not url.startswith(EMBEDDED_SCHEMES + SERVER_SCHEMES):
        raise UsageError(
            f"database URL {url!r} is not one of surrealkv://DIR, mem:// or ws://HOST:PORT"
        )
    if url.startswith(("surrealkv://", "file://")) and embedded_db_dir(url) is None:
        raise UsageError(f"database URL {url!r} names no directory (e.g. surrealkv://.mer/db)")


class Database:
    """An open MER-DB: ``query`` checks every statement's result, ``query_raw`` leaves it to you."""

    def __init__(self, conn: Any, url: str) -> None:
        self._conn = conn
        self.url = url

    async def query_raw(self, sql: str, variables: dict[str, Any] | None = None) -> list[Entry]:
        """Every statement's result; a query SurrealDB refuses as a whole raises ``RuntimeError``
        from the SDK, which the caller translates (it knows which script it was)."""
        answer = await self._conn.query_raw(sql, variables or {})
        if "error" in answer:
            raise RuntimeError(str(answer["error"].get("message", answer["error"])))
        return [Entry(e.get("status") == "OK", e.get("result")) for e in answer.get("result", [])]

    async def query(self, sql: str, variables: dict[str, Any] | None = None) -> list[Any]:
        """The results of every statement; raises ``QueryFailed`` if any statement failed."""
        try:
            entries = await self.query_raw(sql, variables)
        except (RuntimeError, OSError) as exc:
            raise QueryFailed(f"query failed on {self.url}: {exc}") from exc
        errors = [e.error for e in entries if not e.ok and not e.not_executed]
        errors = errors or [e.error for e in entries if not e.ok]
        if errors:
            raise QueryFailed(f"query failed on {self.url}: {errors[0]}")
        return [e.result for e in entries]


def _describe_busy(exc: DatabaseInUse, waited_s: float) -> str:
    holder = exc.holder
    if holder is not None and holder.role == MIGRATOR_ROLE:
        return (
            f"database is locked by {holder.host} pid {holder.pid} since {holder.since} "
            f"(another mer-migrate; waited {waited_s:g}s, see --lock-timeout)"
        )
    return exc.message


def _wait_for_migrator(holder: LockHolder | None) -> bool:
    """Wait for another migrator to finish; a DAL holds the database for its whole life."""
    return holder is None or holder.role == MIGRATOR_ROLE


@asynccontextmanager
async def open_database(
    settings: MigratorSettings, *, lock_timeout_s: float
) -> AsyncIterator[Database]:
    """Open the MER-DB of ``settings`` (locking an embedded directory first) and close it after."""
    url = settings.db_url
    check_url(url)
    async with AsyncExitStack() as stack:
        try:
            stack.enter_context(
                hold_embedded_db(
                    url, role=MIGRATOR_ROLE, timeout_s=lock_timeout_s, wait_for=_wait_for_migrator
                )
            )
        except DatabaseInUse as exc:
            raise DatabaseUnavailable(_describe_busy(exc, lock_timeout_s)) from exc
        except OSError as exc:
            raise DatabaseUnavailable(f"cannot lock database {url}: {exc}") from exc
        conn = await _connect(settings)
        stack.push_async_callback(_close, conn)
        yield Database(conn, url)


async def _connect(settings: MigratorSettings) -> Any:
    try:
        return await connect(settings, CONNECT_TIMEOUT_S)
    except Unavailable as exc:
        raise DatabaseUnavailable(exc.message) from exc


async def _close(conn: Any) -> None:
    # Closing a connection that already broke is not news.
    with contextlib.suppress(Exception):
        await conn.close()
