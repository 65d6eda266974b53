"""``/blobs``: content-addressed bytes, streamed in and out chunk by chunk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse
from mer_core.errors import MerError
from mer_core.schemas.registry import BlobPublic

from mer_dal.crud import blobs as crud
from mer_dal.deps import Db, Settings
from mer_dal.registry import blobs as registry

router = APIRouter(prefix="/blobs", tags=["blobs"])


@router.post(
    "",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "required": True,
        }
    },
    responses={200: {"model": BlobPublic, "description": "The blob existed already."}},
)
async def upload_blob(
    request: Request,
    response: Response,
    db: Db,
    settings: Settings,
    x_content_sha256: Annotated[str | None, Header()] = None,
) -> BlobPublic:
    expected = None
    if x_content_sha256 is not None:
        expected = registry.parse_sha256(x_content_sha256, "X-Content-Sha256")
    blob, created = await registry.store_blob(
        db, request.stream(), expected=expected, chunk_size=settings.blob_chunk_size
    )
    response.status_code = 201 if created else 200
    return blob


@router.get("/{sha256}", response_class=StreamingResponse)
async def download_blob(db: Db, sha256: str) -> StreamingResponse:
    blob = await crud.get_blob(db, sha=registry.parse_sha256(sha256))
    headers = {"Content-Length": str(blob.public.size), "X-Content-Sha256": blob.public.sha256}
    return StreamingResponse(
        _abort_on_error(registry.stream_blob(db, blob)),
        media_type="application/octet-stream",
        headers=headers,
    )


class AnswerAborted(RuntimeError):
    """Raised once an answer has started: the server drops the connection mid-body."""


async def _abort_on_error(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Once the status line is sent no error answer is possible: cut the body short instead, so
    the client sees a truncated transfer, never a complete-looking one."""
    try:
        async for piece in stream:
            yield piece
    except MerError as exc:
        raise AnswerAborted(f"aborted the blob download: {exc.message}") from exc
