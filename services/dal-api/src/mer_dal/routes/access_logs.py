"""``/access-logs``: one row per answered inference request, written by workers in batches."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from mer_core.schemas.registry import AccessLogBatch, AccessLogsPublic, Inserted

from mer_dal.crud import access_logs as crud
from mer_dal.deps import Db

router = APIRouter(prefix="/access-logs", tags=["access logs"])


@router.post("")
async def post_access_logs(db: Db, batch: AccessLogBatch) -> Inserted:
    return Inserted(inserted=await crud.insert_access_logs(db, rows=batch.data))


@router.get("")
async def list_access_logs(
    db: Db,
    model: str | None = None,
    server: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> AccessLogsPublic:
    return await crud.list_access_logs(db, model=model, server=server, since=since, limit=limit)
