"""Apply one script atomically, and when it fails say which statement failed and why.

The script runs as one transaction together with its history row. SurrealDB then answers every
statement but the failing one with "The query was not executed due to a failed transaction", so
the failing statement is the first entry with another error; the splitter maps it back to the
file. A query SurrealDB cannot parse fails as a whole; its message carries the line, which maps
back the same way because the transaction prefix shares the script's first line.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from mer_migrate.db import Database, Entry
from mer_migrate.errors import DatabaseUnavailable, ScriptFailed
from mer_migrate.history import HistoryStore
from mer_migrate.scripts import Script
from mer_migrate.splitter import Statement

_PARSE_LOCATION = re.compile(r"-->\s*\[(\d+):(\d+)\]")
_SDK_PREFIX = "There was a problem with the database: "


@dataclass(frozen=True)
class Failure:
    error: str
    statement: Statement | None


async def apply_script(db: Database, history: HistoryStore, script: Script) -> float:
    """Run ``script`` and record it; returns its duration in ms, or raises ``ScriptFailed``
    after recording the failed attempt (the database is left as it was before)."""
    statements = script.statements()
    query = history.apply_query(script)
    started = time.perf_counter()
    failure: Failure | None
    try:
        entries = await db.query_raw(query.sql, query.variables)
    except RuntimeError as exc:
        failure = _parse_failure(str(exc), statements)
    except (OSError, ConnectionError) as exc:
        raise DatabaseUnavailable(
            f"lost the database while applying {script.filename}: {exc}"
        ) from exc
    else:
        failure = _find_failure(entries, statements, query.statement_offset)
    duration_ms = (time.perf_counter() - started) * 1000
    if failure is None:
        return duration_ms
    error = ScriptFailed(
        script.filename,
        failure.error,
        statement=failure.statement.number if failure.statement else None,
        first_line=failure.statement.first_line if failure.statement else None,
    )
    await history.record_failure(script, duration_ms, error.message)
    raise error


def _find_failure(entries: list[Entry], statements: list[Statement], offset: int) -> Failure | None:
    if all(e.ok for e in entries):
        return None
    for index, entry in enumerate(entries):
        if entry.ok or entry.not_executed:
            continue
        number = index - offset + 1
        if 1 <= number <= len(statements):
            return Failure(entry.error, statements[number - 1])
        if number > len(statements):
            return Failure(f"recording the history row failed: {entry.error}", None)
        return Failure(entry.error, None)
    # Only placeholders: the transaction itself failed, e.g. a conflict at commit.
    return Failure(next(e.error for e in entries if not e.ok), None)


def _parse_failure(message: str, statements: list[Statement]) -> Failure:
    message = message.removeprefix(_SDK_PREFIX)
    location = _PARSE_LOCATION.search(message)
    headline = (
        message.splitlines()[0].strip() if message.strip() else "SurrealDB refused the script"
    )
    if location is None:
        return Failure(headline, None)
    line = int(location.group(1))
    if statements and line > statements[-1].line + statements[-1].text.count("\n"):
        return Failure(f"the migrator's history statements failed to parse: {headline}", None)
    statement = None
    for candidate in statements:
        if candidate.line <= line:
            statement = candidate
    return Failure(f"{headline} (line {line})", statement)
