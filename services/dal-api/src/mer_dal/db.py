"""The DAL's one connection to the MER-DB: open (lock, connect, sign in, check it is migrated),
query with every statement's result checked, close.

surrealdb exceptions stop here: a database that cannot be reached or answers with a broken
connection is ``Unavailable``; a statement refused because its record or index key exists is
``Conflict``; a statement on ``ONLY`` a record that does not exist is ``NotFound``; a string with
a NUL byte in the query's variables, which SurrealDB stores but cannot read back, is refused as
``InvalidRequest`` before it is sent (the schemas refuse NUL first; this is the backstop); any other
refused statement is a bug (``MerError``, 500). Transactions that lose an optimistic-concurrency
race are retried, since SurrealDB rolled them back whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from mer_core.dblock import hold_embedded_db
from mer_core.errors import Conflict, InvalidRequest, MerError, NotFound, Unavailable
from mer_core.settings import DalSettings
from mer_core.surreal import connect

log = logging.getLogger(__name__)

ROLE = "mer-dal"
CONNECT_TIMEOUT_S = 10.0
QUERY_TIMEOUT_S = 60.0
URL_SCHEMES = (
    "surrealkv://",
    "surrealkv+versioned://",
    "file://",
    "mem://",
    "memory",
    "ws://",
    "wss://",
)
RETRIES = 8
NOT_EXECUTED = "The query was not executed due to a failed transaction"
_RETRYABLE = "can be retried"
_CONFLICT_MARKS = ("already exists", "already contains")
_MISSING_MARK = "Expected a single result output when using the ONLY keyword"
_NUL_MARK = "null byte"
"""SurrealDB cannot store a NUL in a string or key; the schemas refuse one, this is the backstop."""
# The embedded engine finishes background work on its own threads after the handle is dropped;
# leaving the interpreter before that aborts the process.
_SETTLE_S = 0.05

REQUIRED_MIGRATION = 3
"""The newest migration whose schema this DAL uses (03-BlobUploadKey: ``blob.chunk_key``)."""


class Database:
    """An open MER-DB: ``await Database.open(settings)`` ... ``await db.aclose()``."""

    def __init__(self, conn: Any, url: str, lock: contextlib.ExitStack) -> None:
        self._conn: Any = conn
        self.url = url
        self._lock = lock
        # The engine does not serialize concurrent `revision += 1` updates (20 concurrent
        # transactions were seen to leave 19), and a worker polling between two such commits
        # would miss the second change: registry writes of this process run one at a time.
        self._writes = asyncio.Lock()

    @classmethod
    async def open(cls, settings: DalSettings) -> Database:
        """Lock (embedded) and connect; refuses a database that is busy or not migrated."""
        url = settings.db_url
        _check_url(url)
        lock = contextlib.ExitStack()
        try:
            lock.enter_context(hold_embedded_db(url, role=ROLE))
        except OSError as exc:
            raise Unavailable(f"cannot lock the database {url}: {exc}") from exc
        try:
            conn = await connect(settings, CONNECT_TIMEOUT_S)
        except BaseException:
            lock.close()
            raise
        db = cls(conn, url, lock)
        try:
            await db.check_migrated()
        except BaseException:
            await db.aclose()
            raise
        return db

    async def aclose(self) -> None:
        """Close the connection, then release the directory lock."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
            del conn
            await asyncio.sleep(_SETTLE_S)
        self._lock.close()

    async def check_migrated(self) -> int:
        """The number of migrations applied; refuses a database the migrator has not prepared."""
        applied, newest = await self.migrations()
        if applied == 0:
            raise Unavailable(f"the database {self.url} is not migrated: run mer-migrate up first")
        if newest < REQUIRED_MIGRATION:
            raise Unavailable(
                f"the database {self.url} is at migration {newest} but this DAL needs "
                f"{REQUIRED_MIGRATION}: run mer-migrate up first"
            )
        return applied

    async def migrations(self) -> tuple[int, int]:
        """(migrations applied, the newest applied version), from the migrator's history."""
        sql = (
            "SELECT count() AS n, math::max(version) AS newest FROM migration "
            "WHERE success = true GROUP ALL"
        )
        rows = (await self.query(sql))[0]
        if not rows:
            return 0, -1
        newest = rows[0].get("newest")
        return int(rows[0]["n"]), int(newest) if isinstance(newest, int) else -1

    async def query(self, sql: str, variables: dict[str, Any] | None = None) -> list[Any]:
        """Every statement's result; raises if any statement failed (see the module doc)."""
        variables = variables or {}
        if variables and _holds_nul(variables):
            # SurrealDB stores such a string, then cannot serialize it back: refuse it first.
            raise InvalidRequest(
                "a string in the request holds a NUL character (\\u0000), which the database "
                "cannot store"
            )
        for attempt in range(RETRIES):
            try:
                entries = await self._send(sql, variables)
            except MerError as exc:
                refused = _nul_refused(variables, exc)
                if refused is exc:
                    raise
                raise refused from exc
            errors = [str(e.get("result")) for e in entries if e.get("status") != "OK"]
            if not errors:
                return [e.get("result") for e in entries]
            if any(_RETRYABLE in error for error in errors) and attempt + 1 < RETRIES:
                await asyncio.sleep(0.005 * 2**attempt)
                continue
            raise _nul_refused(variables, _refused(errors))
        raise AssertionError("unreachable")  # pragma: no cover

    async def transaction(self, sql: str, variables: dict[str, Any] | None = None) -> list[Any]:
        """Run ``sql`` as one transaction: all statements apply, or none (and this raises)."""
        async with self._writes:
            return await self.query(f"BEGIN TRANSACTION;\n{sql}\nCOMMIT TRANSACTION;", variables)

    async def _send(self, sql: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
        conn = self._conn
        if conn is None:
            raise Unavailable("the database connection is closed")
        try:
            answer = await asyncio.wait_for(conn.query_raw(sql, variables), QUERY_TIMEOUT_S)
        except TimeoutError as exc:
            raise Unavailable(f"the database at {self.url} did not answer in time") from exc
        except Exception as exc:  # every SDK and transport failure enters MER here
            raise _translate(exc, self.url) from exc
        if not isinstance(answer, dict) or "result" not in answer:
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise Unavailable(f"the database at {self.url} answered badly: {error}")
        entries: list[dict[str, Any]] = answer["result"]
        return entries


def _refused(errors: list[str]) -> MerError:
    """The error of a refused query: its first real error (not a rollback placeholder)."""
    real = [e for e in errors if not e.startswith(NOT_EXECUTED)] or errors
    first = real[0]
    if any(mark in first for mark in _CONFLICT_MARKS):
        return Conflict(first)
    if _MISSING_MARK in first:
        return NotFound("no such record")
    if _RETRYABLE in first:
        return Unavailable(f"the database stayed too busy to commit: {first}")
    return MerError(f"the database refused a query: {first}")


def _holds_nul(variables: dict[str, Any]) -> bool:
    """Whether a query variable holds a string with a NUL: one orjson pass in C (a NUL is
    written ``\\u0000``), walked exactly only when that text occurs."""
    encoded = orjson.dumps(variables, default=str, option=orjson.OPT_NON_STR_KEYS)
    return b"\\u0000" in encoded and _walk_nul(variables)


def _walk_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_walk_nul(k) or _walk_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_walk_nul(v) for v in value)
    return False


def _nul_refused(variables: dict[str, Any], exc: MerError) -> MerError:
    """``InvalidRequest`` when SurrealDB refused a NUL byte that came with the query's input."""
    if _NUL_MARK in exc.message and _holds_nul(variables):
        return InvalidRequest(
            "a string in the request holds a NUL character (\\u0000), which the database "
            f"cannot store: {exc.message}"
        )
    return exc


def _translate(exc: Exception, url: str) -> MerError:
    message = str(exc).removeprefix("There was a problem with the database: ")
    headline = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    if "Parse error" in message:
        return MerError(f"the DAL sent a query SurrealDB cannot parse: {headline}")
    return Unavailable(f"the database at {url} failed: {headline}")


def _check_url(url: str) -> None:
    if url.startswith(("http://", "https://")):
        raise Unavailable(f"database URL {url}: use ws://HOST:PORT for a SurrealDB server")
    if not url.startswith(URL_SCHEMES):
        raise Unavailable(
            f"database URL {url!r} is not one of surrealkv://DIR, mem:// or ws://HOST:PORT"
        )
