"""The schema history: one ``migration`` row per applied script, and one per failed attempt.

A successful row has the record id ``migration:⟨version⟩`` and is created in the same transaction
as the script's statements, so a script and its row apply together or not at all. A failed
attempt is written after the rollback, with a random id and ``success = false``, so ``status``
can show it and ``repair`` can remove it.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mer_migrate.db import Database
from mer_migrate.scripts import Script

TABLE = "migration"
# Variables the apply query uses; scripts must not use names starting with ``__mer``.
VAR_PREFIX = "__mer"

SCHEMA = """
DEFINE TABLE IF NOT EXISTS migration SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS version ON migration TYPE int;
DEFINE FIELD IF NOT EXISTS name ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS script ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS checksum ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS applied_at ON migration TYPE datetime;
DEFINE FIELD IF NOT EXISTS duration_ms ON migration TYPE float;
DEFINE FIELD IF NOT EXISTS host ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS user ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS success ON migration TYPE bool;
DEFINE FIELD IF NOT EXISTS kind ON migration TYPE string ASSERT $value IN ['script', 'baseline'];
DEFINE FIELD IF NOT EXISTS error ON migration TYPE option<string>;
DEFINE INDEX IF NOT EXISTS migration_version ON migration FIELDS version;
"""


def who() -> tuple[str, str]:
    """The host and user running the migrator, for the history."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid {os.getuid()}"
    return socket.gethostname(), user


@dataclass(frozen=True)
class HistoryRow:
    key: str
    version: int
    name: str
    script: str
    checksum: str
    applied_at: datetime
    duration_ms: float
    host: str
    user: str
    success: bool
    kind: str
    error: str | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> HistoryRow:
        rid = record.get("id")
        key = str(getattr(rid, "id", getattr(rid, "record_id", rid)))
        return cls(
            key=key,
            version=int(record["version"]),
            name=str(record["name"]),
            script=str(record["script"]),
            checksum=str(record["checksum"]),
            applied_at=record["applied_at"],
            duration_ms=float(record["duration_ms"]),
            host=str(record["host"]),
            user=str(record["user"]),
            success=bool(record["success"]),
            kind=str(record["kind"]),
            error=record.get("error"),
        )


def _row(script: Script, *, success: bool, kind: str, error: str | None = None) -> dict[str, Any]:
    host, user = who()
    return {
        "version": script.version,
        "name": script.name,
        "script": script.filename,
        "checksum": script.checksum,
        "applied_at": datetime.now(UTC),
        "duration_ms": 0.0,
        "host": host,
        "user": user,
        "success": success,
        "kind": kind,
        "error": error,
    }


@dataclass(frozen=True)
class ApplyQuery:
    """The text and variables that apply one script and its history row in one transaction.

    Result entries: [0] the start time, [1..n] the script's n statements, [n+1, n+2] the
    history row and its duration.
    """

    sql: str
    variables: dict[str, Any]
    statement_offset: int = 1


class HistoryStore:
    """Reads and writes the ``migration`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def ensure_schema(self) -> None:
        await self.db.query(SCHEMA)

    async def rows(self) -> list[HistoryRow]:
        """Every row, oldest first (a database never migrated has none)."""
        [records] = await self.db.query("SELECT * FROM migration ORDER BY version, applied_at;")
        return [HistoryRow.from_record(r) for r in records or []]

    def apply_query(self, script: Script) -> ApplyQuery:
        """The script wrapped in a transaction with its history row.

        ``BEGIN`` shares the script's first line so SurrealDB's parse errors keep the file's line
        numbers; the suffix starts on a new line after a ``;`` so an unterminated last statement
        or a trailing ``--`` comment cannot swallow it.
        """
        row = _row(script, success=True, kind="script")
        sql = (
            f"BEGIN TRANSACTION; LET ${VAR_PREFIX}_t0 = time::now(); {script.text}\n;\n"
            f"CREATE type::thing('migration', ${VAR_PREFIX}_version) CONTENT ${VAR_PREFIX}_row "
            "RETURN NONE;\n"
            f"UPDATE type::thing('migration', ${VAR_PREFIX}_version) SET duration_ms = "
            f"duration::nanos(time::now() - ${VAR_PREFIX}_t0) / 1000000.0 RETURN NONE;\n"
            "COMMIT TRANSACTION;"
        )
        variables = {f"{VAR_PREFIX}_version": script.version, f"{VAR_PREFIX}_row": row}
        return ApplyQuery(sql, variables)

    async def record_failure(self, script: Script, duration_ms: float, error: str) -> None:
        row = _row(script, success=False, kind="script", error=error)
        row["duration_ms"] = duration_ms
        await self.db.query("CREATE migration CONTENT $row;", {"row": row})

    async def record_baseline(self, scripts: list[Script]) -> None:
        """Mark ``scripts`` applied without running them, all in one transaction."""
        statements = ["BEGIN TRANSACTION;"]
        variables: dict[str, Any] = {}
        for i, script in enumerate(scripts):
            variables[f"v{i}"] = script.version
            variables[f"r{i}"] = _row(script, success=True, kind="baseline")
            statements.append(f"CREATE type::thing('migration', $v{i}) CONTENT $r{i};")
        statements.append("COMMIT TRANSACTION;")
        await self.db.query("\n".join(statements), variables)

    async def delete_failed(self) -> int:
        [deleted] = await self.db.query("DELETE migration WHERE success = false RETURN BEFORE;")
        return len(deleted or [])

    async def update_checksum(self, version: int, script: Script) -> None:
        await self.db.query(
            "UPDATE type::thing('migration', $version) "
            "SET checksum = $checksum, name = $name, script = $script;",
            {
                "version": version,
                "checksum": script.checksum,
                "name": script.name,
                "script": script.filename,
            },
        )
