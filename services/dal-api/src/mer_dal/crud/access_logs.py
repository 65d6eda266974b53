"""SurrealQL of the ``access_log`` table. Rows are keyed by request id, so replays add nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from mer_core.schemas.registry import AccessLogCreate, AccessLogPublic, AccessLogsPublic
from surrealdb import RecordID

from mer_dal.db import Database


async def insert_access_logs(db: Database, *, rows: Sequence[AccessLogCreate]) -> int:
    """Insert the rows whose request id is new; returns how many were."""
    if not rows:
        return 0
    records = [
        {**row.model_dump(), "at": _utc(row.at), "id": RecordID("access_log", row.request_id)}
        for row in rows
    ]
    [inserted] = await db.query("INSERT IGNORE INTO access_log $rows RETURN id", {"rows": records})
    return len(inserted)


async def list_access_logs(
    db: Database,
    *,
    model: str | None = None,
    server: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> AccessLogsPublic:
    """The newest ``limit`` rows matching every filter given, newest first."""
    sql = (
        "SELECT * FROM access_log WHERE ($model = NONE OR model = $model) "
        "AND ($server = NONE OR server = $server) AND ($since = NONE OR at >= $since) "
        "ORDER BY at DESC LIMIT $limit"
    )
    variables = {
        "model": model,
        "server": server,
        "since": _utc(since) if since is not None else None,
        "limit": limit,
    }
    [rows] = await db.query(sql, variables)
    data = [AccessLogPublic.model_validate(row) for row in rows]
    return AccessLogsPublic(data=data, count=len(data))


def _utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC, so every stored ``at`` compares with every other."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
