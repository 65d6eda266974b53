"""``/health`` (no token) and ``/revision``."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from mer_core.errors import MerError
from mer_core.schemas.registry import HealthPublic
from pydantic import BaseModel

from mer_dal.crud import revision as crud
from mer_dal.deps import Db

router = APIRouter(tags=["health"])


class RevisionPublic(BaseModel):
    revision: int


@router.get("/health", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
async def health(db: Db) -> JSONResponse:
    """200 while the database answers; 503 with ``degraded`` and the reason when it does not."""
    try:
        applied, _ = await db.migrations()
    except MerError as exc:
        body = HealthPublic(
            status="degraded", service="mer-dal", version=version("mer-dal"), database=exc.message
        )
        return JSONResponse(body.model_dump(), status_code=503)
    body = HealthPublic(
        status="ok",
        service="mer-dal",
        version=version("mer-dal"),
        database="ok",
        migrations_applied=applied,
    )
    return JSONResponse(body.model_dump())


@router.get("/revision")
async def revision(db: Db) -> RevisionPublic:
    """Grows on every registry write: workers poll it to know when to reload."""
    return RevisionPublic(revision=await crud.get_revision(db))
